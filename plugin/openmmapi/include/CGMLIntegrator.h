#ifndef OPENMM_CGMLINTEGRATOR_H_
#define OPENMM_CGMLINTEGRATOR_H_

#include "openmm/Integrator.h"
#include "openmm/Kernel.h"
#include "internal/windowsExportCGML.h"
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace CGMLPlugin {

class CGMLBundle;

/**
 * An Integrator that advances a system in coarse-grained (CG) steps with a learned propagator.
 *
 * Particles are grouped into beads.  Each step takes the mass-weighted centre of every bead,
 * appends it to a history of the last k bead frames, and asks a TorchScript propagator (the
 * "bundle") for the next bead positions.  Every particle is then translated rigidly with its
 * bead, particle velocities are set to the bead displacement divided by the step size, and
 * the time advances by the step size.  No forces are evaluated.
 *
 * The bundle is a TorchScript file with methods embed() and step() and attributes
 * history_length and timestep_ps: the propagator contract of docs/contract.md, whose names
 * this plugin reads from internal/CGMLContract.h.  When fewer than
 * k frames exist (after setPositions(), a switch inside a CompoundIntegrator, or the first
 * step) the history is filled with copies of the current frame.
 *
 * The bead assignment, atom features and atom bonds must be set before a Context is created.
 */
class OPENMM_EXPORT_CGML CGMLIntegrator : public OpenMM::Integrator {
public:
    /**
     * Create a CGMLIntegrator.
     *
     * @param bundle    the path of a TorchScript bundle, or the bytes of one (a TorchScript
     *                  archive is recognised by its zip signature)
     * @param stepSize  the CG step size in ps; it must equal the bundle's timestep_ps
     */
    CGMLIntegrator(const std::string& bundle, double stepSize);
    ~CGMLIntegrator();
    /**
     * Set the step size in ps.  It must equal the CG step the bundle was trained for.
     */
    void setStepSize(double size);
    /**
     * Get the bytes of the TorchScript bundle.
     */
    const std::string& getBundle() const;
    /**
     * Get the number of history frames (k) the bundle expects.
     */
    int getHistoryLength() const;
    /**
     * Get the bundle's metadata (JSON text; "{}" if it has none).
     */
    const std::string& getMetadata() const;
    /**
     * Set which bead each particle belongs to.  Beads are numbered 0 .. numBeads-1 with no gaps.
     * An empty assignment (the default) puts every particle in a bead of its own.
     */
    void setBeadAssignment(const std::vector<int>& beadOfParticle);
    /**
     * Get the bead of each particle (empty if every particle is its own bead).
     */
    const std::vector<int>& getBeadAssignment() const;
    /**
     * Set the integer features of each particle, one row per particle, all rows the same length.
     * The default (empty) is one zero column.
     */
    void setAtomFeatures(const std::vector<std::vector<int> >& features);
    /**
     * Get the integer features of each particle.
     */
    const std::vector<std::vector<int> >& getAtomFeatures() const;
    /**
     * Set the bonds between particles.  Bead bonds are the bonds that join different beads.
     */
    void setAtomBonds(const std::vector<std::pair<int, int> >& bonds);
    /**
     * Get the bonds between particles.
     */
    const std::vector<std::pair<int, int> >& getAtomBonds() const;
    /**
     * Get the random number seed.  See setRandomNumberSeed() for details.
     */
    int getRandomNumberSeed() const {
        return randomNumberSeed;
    }
    /**
     * Set the random number seed.  The propagator's random numbers for a step are drawn from the
     * integrator's own generator (passed to the bundle's step()), seeded with this value and the
     * Context's step count, so runs with the same seed are reproducible whatever other threads do,
     * and torch's default generator is never used.  If the seed is 0 (the default), a unique seed
     * is chosen when a Context is created from this integrator; checkpoints carry it.
     */
    void setRandomNumberSeed(int seed) {
        randomNumberSeed = seed;
    }
    /**
     * Set a platform option.  A platform ignores the options it does not use.  Options:
     *
     * - "useCUDAGraphs": "true" or "false" (the default).  On the CUDA platform, record the
     *   bundle's step() in a CUDA graph the first time it runs and replay the graph afterwards.
     *   The bundle's step() must then be capturable (no host synchronisation, no data-dependent
     *   shapes).
     * - "CUDAGraphWarmupSteps": a positive integer (default "1"): how many times step() runs
     *   eagerly before it is recorded.
     * - "Threads": how many torch threads a step may use on the Reference and CPU platforms
     *   (default "1": a step on a small bead graph is dominated by operator dispatch, and more
     *   threads only compete with other work); "0" follows the CPU platform's own Threads
     *   property (1 on the Reference platform).  The caller's torch thread count is restored
     *   after every step.
     * - "CheckTrainingRange": "warn" (the default), "raise" or "off".  Every step is checked
     *   against the training data's range the bundle records (metadata training_range): no
     *   non-bonded bead pair closer than the closest approach seen in training, no bead bond
     *   outside the bond lengths seen.  "warn" reports the first step outside once (standard
     *   error) and goes on; "raise" fails that step, leaving the Context as it was.
     * - "IndependentMolecules": "false" (the default) or "true".  With "true", the molecules of the
     *   System (the connected components of the bead bonds) are independent copies: one call of
     *   the bundle's step() advances them all as one batched graph with no edges between them, so
     *   each moves as it would alone (the history is shifted to put them 10 nm apart along x for
     *   the call, and shifted back).  This is how many replicas of a molecule run at once.  With
     *   "false", beads of different molecules that come close are neighbours, as in one System.
     *
     * Options cannot change once a Context uses the integrator.
     */
    void setProperty(const std::string& name, const std::string& value);
    /**
     * Get every platform option and its value (defaults included).
     */
    const std::map<std::string, std::string>& getProperties() const;
    /**
     * Advance a simulation through time by taking a series of CG steps.
     *
     * @param steps   the number of time steps to take
     */
    void step(int steps);
    /**
     * Get the bundle, parsed and checked (shared by the kernels).
     */
    const CGMLBundle& getParsedBundle() const;
protected:
    void initialize(OpenMM::ContextImpl& context);
    void cleanup();
    std::vector<std::string> getKernelNames();
    void stateChanged(OpenMM::State::DataType changed);
    /**
     * The kinetic energy of the bead centres (moving with the bead displacement over the last step
     * divided by the step size), scaled by the System's degrees of freedom over the bead centres'
     * (3 per bead), so that the temperature reporters compute is the bead centres' temperature.
     */
    double computeKineticEnergy();
    bool kineticEnergyRequiresForce() const {
        return false;
    }
    void createCheckpoint(std::ostream& stream) const;
    void loadCheckpoint(std::istream& stream);
private:
    void requireUnbound(const char* what) const;
    OpenMM::Kernel kernel;
    std::unique_ptr<CGMLBundle> parsed;
    std::string bundleBytes;
    std::vector<int> beadOfParticle;
    std::vector<std::vector<int> > atomFeatures;
    std::vector<std::pair<int, int> > atomBonds;
    std::map<std::string, std::string> properties;
    int randomNumberSeed;
    bool restored;  // a checkpoint was just loaded: the next report of changed positions keeps the history
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLINTEGRATOR_H_*/
