#ifndef OPENMM_CGMLHISTORY_H_
#define OPENMM_CGMLHISTORY_H_

#include "internal/windowsExportCGML.h"
#include <torch/script.h>
#include <cstdint>
#include <iosfwd>

namespace CGMLPlugin {

/**
 * The last k frames of bead centres, float64 (k, n_beads, 3), oldest first, on any torch device.
 * Every platform's kernel keeps its history in one of these, so the reset rule and the checkpoint
 * format are the same everywhere: the frames continue only while nothing reset them (setPositions,
 * a switch of integrators) and the Context's step count is the one the last step left behind;
 * otherwise the next step starts from k copies of the current frame.
 *
 * A checkpoint section holds a magic word, a version, k, the bead count, the frames, the step count
 * they belong to and the integrator's random seed, followed by the SHA-256 of all of it; read()
 * checks every part before it changes anything.
 */
class OPENMM_EXPORT_CGML CGMLHistory {
public:
    CGMLHistory(int length, int numBeads, const torch::Device& device);
    /**
     * Forget the frames: the next step starts from copies of the current frame.
     */
    void reset();
    /**
     * Put the current bead centres (float64 (n_beads, 3) on the history's device) in before a step:
     * as the newest frame if the history continues at this step count, else as every frame.
     * Returns the frames; their storage stays the same for the history's lifetime.
     */
    const torch::Tensor& prepare(const torch::Tensor& current, long long stepCount);
    /**
     * Drop the oldest frame and append the new bead centres after a step that brought the
     * Context's step count to stepCount.
     */
    void advance(const torch::Tensor& next, long long stepCount);
    /**
     * Write the history and the integrator's random seed to a checkpoint.
     */
    void write(std::ostream& stream, uint64_t seed) const;
    /**
     * Read a checkpoint section written by write() for the same k and bead count, and return the
     * seed it holds.  A section that is missing, of another version or size, truncated or corrupt
     * throws OpenMMException naming the problem, and leaves the history as it was.
     */
    uint64_t read(std::istream& stream);
private:
    torch::Tensor frames, scratch;
    bool valid;
    long long step;  // the Context's step count when the newest frame was taken
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLHISTORY_H_*/
