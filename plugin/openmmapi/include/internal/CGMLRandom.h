#ifndef OPENMM_CGMLRANDOM_H_
#define OPENMM_CGMLRANDOM_H_

// How every platform's kernel seeds torch's random numbers for a step, so that a run is reproducible
// from (seed, step count) and the caller's own torch random stream is left alone.

#include "openmm/internal/OSRngSeed.h"
#include <ATen/core/Generator.h>
#include <cstdint>
#include <mutex>

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
 * Seeds one of torch's generators (the default CPU or CUDA one) for one step and puts its
 * previous state back when it goes out of scope.
 */
class SeededGenerator {
public:
    SeededGenerator(at::Generator generator, uint64_t seed) : generator(generator) {
        std::lock_guard<std::mutex> lock(generator.mutex());
        saved = generator.get_state();
        generator.set_current_seed(seed);
    }
    ~SeededGenerator() {
        std::lock_guard<std::mutex> lock(generator.mutex());
        generator.set_state(saved);
    }
    SeededGenerator(const SeededGenerator&) = delete;
    SeededGenerator& operator=(const SeededGenerator&) = delete;
    /** Seed the generator again (a CUDA graph replays with the generator's seed at replay time). */
    void reseed(uint64_t seed) {
        std::lock_guard<std::mutex> lock(generator.mutex());
        generator.set_current_seed(seed);
    }
private:
    at::Generator generator;
    at::Tensor saved;
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLRANDOM_H_*/
