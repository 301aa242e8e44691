#ifndef REFERENCE_CGML_KERNELS_H_
#define REFERENCE_CGML_KERNELS_H_

#include "CGMLKernels.h"
#include "internal/CGMLBeads.h"
#include "internal/CGMLGuard.h"
#include "internal/CGMLHistory.h"
#include "internal/CGMLMolecules.h"
#include "internal/CGMLRandom.h"
#include <memory>

namespace CGMLPlugin {

/**
 * Takes CG steps on the Reference and CPU platforms, with libtorch on the CPU.
 */
class ReferenceIntegrateCGMLStepKernel : public IntegrateCGMLStepKernel {
public:
    ReferenceIntegrateCGMLStepKernel(std::string name, const OpenMM::Platform& platform) : IntegrateCGMLStepKernel(name, platform) {
    }
    void initialize(const OpenMM::System& system, const CGMLIntegrator& integrator);
    void execute(OpenMM::ContextImpl& context, const CGMLIntegrator& integrator);
    double computeKineticEnergy(OpenMM::ContextImpl& context, const CGMLIntegrator& integrator);
    void resetHistory();
    void createCheckpoint(OpenMM::ContextImpl& context, std::ostream& stream) const;
    void loadCheckpoint(OpenMM::ContextImpl& context, std::istream& stream);
private:
    torch::Tensor beadCentres(const std::vector<OpenMM::Vec3>& positions) const;
    std::unique_ptr<CGMLBeads> beads;
    std::unique_ptr<CGMLHistory> history;
    std::unique_ptr<CGMLRandom> random;
    std::unique_ptr<CGMLGuard> trainingRange;
    std::unique_ptr<CGMLMolecules> molecules;
    torch::Tensor embedding;
    int threads;
};

} // namespace CGMLPlugin

#endif /*REFERENCE_CGML_KERNELS_H_*/
