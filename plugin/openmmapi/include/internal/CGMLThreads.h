#ifndef OPENMM_CGMLTHREADS_H_
#define OPENMM_CGMLTHREADS_H_

// How many torch threads a CG step on the CPU may use (the integrator's "Threads" property), and a
// guard that sets that count for one step and puts the caller's back afterwards.

#include "CGMLIntegrator.h"
#include "openmm/Context.h"
#include "openmm/Platform.h"
#include "openmm/internal/ContextImpl.h"
#include <ATen/Parallel.h>
#include <algorithm>
#include <string>

namespace CGMLPlugin {

/**
 * The integrator's Threads property: a positive count, or 0 for the Context platform's own
 * "Threads" property (the CPU platform's; 1 where the platform has none).
 */
inline int torchThreads(OpenMM::ContextImpl& context, const CGMLIntegrator& integrator) {
    int threads = std::stoi(integrator.getProperties().at("Threads"));
    if (threads > 0)
        return threads;
    try {
        return std::max(1, std::stoi(context.getPlatform().getPropertyValue(context.getOwner(), "Threads")));
    }
    catch (std::exception&) {
        return 1;
    }
}

/** Sets torch's intra-op thread count for one step and restores the previous count. */
class TorchThreads {
public:
    explicit TorchThreads(int threads) : previous(at::get_num_threads()) {
        if (threads != previous)
            at::set_num_threads(threads);
    }
    ~TorchThreads() {
        if (at::get_num_threads() != previous)
            at::set_num_threads(previous);
    }
    TorchThreads(const TorchThreads&) = delete;
    TorchThreads& operator=(const TorchThreads&) = delete;
private:
    int previous;
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLTHREADS_H_*/
