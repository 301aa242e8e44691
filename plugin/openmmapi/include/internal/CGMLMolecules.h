#ifndef OPENMM_CGMLMOLECULES_H_
#define OPENMM_CGMLMOLECULES_H_

#include "internal/windowsExportCGML.h"
#include <torch/script.h>
#include <string>
#include <vector>

namespace CGMLPlugin {

class CGMLBeads;

/**
 * The integrator's IndependentMolecules property: a System that holds many copies of a molecule,
 * advanced as one batched graph with no edges between copies.
 *
 * Molecules are the connected components of the bead bonds (every bead of a molecule is joined to
 * the others by a chain of bonds).  Before each step the history is shifted so that molecule m
 * starts at x = m * spacing, the spacing being the widest molecule's extent along x (over the
 * history frames) plus marginNm; the propagator's result is shifted back.  Propagators see
 * relative positions only (the contract's translation invariance), so each molecule moves as it
 * would alone, up to float64 rounding, while one call advances them all; the closest pair of
 * the training-range check is then also found within molecules only.  With the property off (the
 * default) molecules are left where they are, and a propagator's graph joins beads of different
 * molecules that come close, as in a single System.
 */
class OPENMM_EXPORT_CGML CGMLMolecules {
public:
    /** Room (nm) left between the shifted molecules, far beyond any propagator's cutoff. */
    static constexpr double marginNm = 10.0;
    CGMLMolecules(const CGMLBeads& beads, const std::string& independent);
    /** Whether steps shift molecules apart (the property is "true"). */
    bool active() const {
        return enabled;
    }
    int numMolecules;
    /** The molecule of every bead, numbered by first bead. */
    std::vector<int> moleculeOfBead;
    /**
     * The shift (n_beads, 3), float64 on the frames' device, that puts the molecules of frames
     * (k, n_beads, 3) apart along x; computed with tensor operations, so no data leaves the device.
     */
    torch::Tensor offsets(const torch::Tensor& frames) const;
private:
    bool enabled;
    mutable torch::Tensor index;  // moleculeOfBead on the frames' device
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLMOLECULES_H_*/
