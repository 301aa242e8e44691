#ifndef OPENMM_CGMLRANDOM_H_
#define OPENMM_CGMLRANDOM_H_

// The integrator's own random stream, the same on every platform: a torch generator that belongs to
// one kernel, reseeded from (seed, step count) before every step and handed to the bundle's step().
// No other code draws from it, so runs are reproducible whatever other threads or Contexts do, and
// the caller's own torch random stream is never touched.

#include "openmm/internal/OSRngSeed.h"
#include <ATen/core/Generator.h>
#include <cstdint>

namespace CGMLPlugin {

/** The integrator's seed, or a unique one if the user's seed is 0. */
inline uint64_t chooseSeed(int userSeed) {
    return (uint64_t) (userSeed == 0 ? osrngseed() : userSeed);
}

/** A 64-bit mix (splitmix64) so that nearby (seed, step) pairs give unrelated generator seeds. */
inline uint64_t mixSeed(uint64_t seed, long long step) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (uint64_t) (step + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/**
 * One kernel's generator (a CPU or CUDA torch generator made for it) and the seed its steps derive
 * from.  The seed travels with checkpoints, so a continued run draws the same numbers.
 */
class CGMLRandom {
public:
    CGMLRandom(at::Generator generator, uint64_t seed) : generator(generator), seed(seed) {
    }
    /** The generator, seeded for the step that starts at this step count. */
    at::Generator& forStep(long long stepCount) {
        generator.set_current_seed(mixSeed(seed, stepCount));
        return generator;
    }
    at::Generator generator;
    uint64_t seed;
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLRANDOM_H_*/
