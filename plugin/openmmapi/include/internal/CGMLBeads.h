#ifndef OPENMM_CGMLBEADS_H_
#define OPENMM_CGMLBEADS_H_

#include "internal/windowsExportCGML.h"
#include "openmm/System.h"
#include <torch/script.h>
#include <utility>
#include <vector>

namespace CGMLPlugin {

class CGMLIntegrator;

/**
 * The bead view of a System, derived once from the integrator's settings and checked:
 * the bead of every particle, particle and bead masses, bead bonds (atom bonds that join
 * different beads, each pair once with i < j), and the tensors embed() and step() take.
 * Every platform's kernel builds on this, so the checks live in one place.
 */
class OPENMM_EXPORT_CGML CGMLBeads {
public:
    CGMLBeads(const OpenMM::System& system, const CGMLIntegrator& integrator);
    int numBeads;
    std::vector<int> beadOfParticle;
    std::vector<double> particleMass;
    std::vector<double> beadMass;
    std::vector<std::pair<int, int> > beadBonds;
    /**
     * Degrees of freedom of the System as OpenMM's reporters count them (3 per massive particle,
     * less constraints, less 3 with a CMMotionRemover) over those of the bead centres (3 per bead).
     * The kinetic energy of the bead centres times this is what the integrator reports, so that a
     * reporter's temperature (2 K / (dof k_B)) is the bead centres' own temperature.
     */
    double kineticScale;
    torch::Tensor atomFeatures;   // int64 (n_atoms, F)
    torch::Tensor atomBonds;      // int64 (2, E)
    torch::Tensor beadOfAtom;     // int64 (n_atoms,)
    torch::Tensor atomMasses;     // float64 (n_atoms,)
    torch::Tensor beadBondIndex;  // int64 (2, E_b)
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLBEADS_H_*/
