#ifndef OPENMM_CGMLGUARD_H_
#define OPENMM_CGMLGUARD_H_

#include "internal/windowsExportCGML.h"
#include <string>
#include <utility>
#include <vector>

namespace CGMLPlugin {

class CGMLBundle;
class CGMLBeads;

/**
 * The check of every CG step against what the model saw in training (the bundle's metadata
 * training_range): no non-bonded bead pair closer than the training data's closest approach, no
 * bead bond outside the training data's bond lengths.  The integrator's CheckTrainingRange property
 * says what a step outside does: "warn" (once per Context, on standard error), "raise" (the step
 * fails and the Context is left as it was) or "off".  Bundles without a training range are not checked.
 * The closest pair is found by a sweep along x (beads sorted by x, pairs compared only while their
 * x differ by less than the closest approach).
 */
class OPENMM_EXPORT_CGML CGMLGuard {
public:
    CGMLGuard(const CGMLBundle& bundle, const CGMLBeads& beads, const std::string& mode);
    /** What is outside the training range at bead positions x (n_beads * 3, nm), or "" if nothing. */
    std::string check(const double* x) const;
    /** check(), then warn or raise as the mode says. */
    void apply(const double* x);
    /** Whether apply() does anything (a range is recorded and the mode is not "off"). */
    bool active() const {
        return enabled;
    }
private:
    bool bonded(int i, int j) const;
    bool enabled, raise, warned;
    int numBeads;
    double closest, bondMin, bondMax;
    std::vector<std::pair<int, int> > bonds;  // sorted, i < j
    mutable std::vector<int> sorted;          // scratch: bead order along x
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLGUARD_H_*/
