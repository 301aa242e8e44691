#ifndef CUDA_CGML_KERNELS_H_
#define CUDA_CGML_KERNELS_H_

#include "CGMLKernels.h"
#include "CudaCGMLAtoms.h"
#include "internal/CGMLBeads.h"
#include "internal/CGMLBundle.h"
#include "internal/CGMLGuard.h"
#include "internal/CGMLHistory.h"
#include "internal/CGMLMolecules.h"
#include "internal/CGMLRandom.h"
#include "openmm/cuda/CudaContext.h"
#include <memory>

namespace CGMLPlugin {

/**
 * Takes CG steps on the CUDA platform.  The bundle runs with libtorch on the GPU of OpenMM's
 * context; positions and velocities go between OpenMM's arrays and torch without a copy to the
 * host.  OpenMM's CUDA context is not the one torch uses (the device's primary context): the two
 * share the device's memory, and each side waits for the other's work before touching it.
 */
class CudaIntegrateCGMLStepKernel : public IntegrateCGMLStepKernel {
public:
    CudaIntegrateCGMLStepKernel(std::string name, const OpenMM::Platform& platform, OpenMM::CudaContext& cu);
    ~CudaIntegrateCGMLStepKernel();
    void initialize(const OpenMM::System& system, const CGMLIntegrator& integrator);
    void execute(OpenMM::ContextImpl& context, const CGMLIntegrator& integrator);
    double computeKineticEnergy(OpenMM::ContextImpl& context, const CGMLIntegrator& integrator);
    void resetHistory();
    void createCheckpoint(OpenMM::ContextImpl& context, std::ostream& stream) const;
    void loadCheckpoint(OpenMM::ContextImpl& context, std::istream& stream);
private:
    class TorchContext;
    struct StepGraph;
    void waitForOpenMM() const;
    CudaCGMLAtoms atoms();
    const CudaCGMLSlots& currentSlots();
    torch::Tensor takeStep(const torch::Tensor& frames, long long stepCount);
    void recordStep(const torch::Tensor& frames, long long stepCount);
    OpenMM::CudaContext& cu;
    CUcontext torchContext;              // the device's primary context, which torch uses
    torch::Device device;
    std::unique_ptr<CGMLBeads> beads;
    std::unique_ptr<CGMLBundle> bundle;  // loaded for this device
    std::unique_ptr<CGMLHistory> history;
    std::unique_ptr<CudaCGMLSlots> slots;
    std::shared_ptr<bool> atomsMoved;    // set when OpenMM reorders atoms or positions are set
    OpenMM::Vec3 slotBox[3];             // the box the slots' shifts were computed for
    bool slotsShifted;
    torch::Tensor embedding, beadBonds;
    std::unique_ptr<CGMLRandom> random;  // a CUDA generator of the kernel's own
    std::unique_ptr<CGMLGuard> trainingRange;
    std::unique_ptr<CGMLMolecules> molecules;
    torch::Tensor shiftedFrames;  // the history with the molecules apart (IndependentMolecules)
    bool useGraphs;
    int warmupSteps;
    std::unique_ptr<StepGraph> graph;
};

} // namespace CGMLPlugin

#endif /*CUDA_CGML_KERNELS_H_*/
