#ifndef OPENMM_CGMLKERNELS_H_
#define OPENMM_CGMLKERNELS_H_

#include "CGMLIntegrator.h"
#include "openmm/KernelImpl.h"
#include "openmm/System.h"
#include "openmm/internal/ContextImpl.h"
#include <iosfwd>
#include <string>

namespace CGMLPlugin {

/**
 * This kernel is invoked by CGMLIntegrator to take one CG step.
 */
class IntegrateCGMLStepKernel : public OpenMM::KernelImpl {
public:
    static std::string Name() {
        return "IntegrateCGMLStep";
    }
    IntegrateCGMLStepKernel(std::string name, const OpenMM::Platform& platform) : OpenMM::KernelImpl(name, platform) {
    }
    /**
     * Initialize the kernel: derive the beads and run the bundle's embed() once.
     *
     * @param system     the System this kernel will be applied to
     * @param integrator the CGMLIntegrator this kernel will be used for
     */
    virtual void initialize(const OpenMM::System& system, const CGMLIntegrator& integrator) = 0;
    /**
     * Take one CG step.  On failure the Context's positions and velocities are left unchanged.
     *
     * @param context    the context in which to execute this kernel
     * @param integrator the CGMLIntegrator this kernel is being used for
     */
    virtual void execute(OpenMM::ContextImpl& context, const CGMLIntegrator& integrator) = 0;
    /**
     * Compute the kinetic energy of the bead centres of mass, scaled to the System's degrees of
     * freedom (CGMLBeads::kineticScale), so that reporters show the bead centres' temperature.
     */
    virtual double computeKineticEnergy(OpenMM::ContextImpl& context, const CGMLIntegrator& integrator) = 0;
    /**
     * Forget the history: the next step fills it with copies of the current frame.
     */
    virtual void resetHistory() = 0;
    /**
     * Write the history and the random seed to a checkpoint.
     */
    virtual void createCheckpoint(OpenMM::ContextImpl& context, std::ostream& stream) const = 0;
    /**
     * Read the history and the random seed from a checkpoint; a section that is not valid throws
     * and changes nothing.
     */
    virtual void loadCheckpoint(OpenMM::ContextImpl& context, std::istream& stream) = 0;
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLKERNELS_H_*/
