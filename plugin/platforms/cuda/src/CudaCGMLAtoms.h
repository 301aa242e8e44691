#ifndef CUDA_CGML_ATOMS_H_
#define CUDA_CGML_ATOMS_H_

// The bead arithmetic of a CG step on OpenMM's device arrays, in plain torch (any device), so
// that it runs without leaving the GPU and can be tested on the CPU with arrays laid out like
// OpenMM's.

#include "openmm/Vec3.h"
#include <torch/script.h>
#include <vector>

namespace CGMLPlugin {

/**
 * OpenMM's per-atom arrays seen as torch tensors, in the context's own atom order (OpenMM sorts
 * atoms for its neighbour lists: row s holds atom atomIndex[s]).  Rows are float4 or double4:
 * posq is float4 in single and mixed precision and double4 in double precision, and in mixed
 * precision the position is posq + posqCorrection (both float4); velm is float4 in single
 * precision and double4 otherwise.  Only the first numAtoms rows are used (the rest is padding).
 */
class CudaCGMLAtoms {
public:
    /**
     * @param posq            (rows, 4) float32 or float64
     * @param posqCorrection  (rows, 4) float32 in mixed precision, an undefined tensor otherwise
     * @param velm            (rows, 4) float32 or float64
     */
    CudaCGMLAtoms(const torch::Tensor& posq, const torch::Tensor& posqCorrection, const torch::Tensor& velm, int numAtoms);
    /** Positions as stored, float64 (numAtoms, 3). */
    torch::Tensor positions() const;
    /** Store positions (float64 (numAtoms, 3)), split into posq and its correction in mixed precision. */
    void setPositions(const torch::Tensor& x);
    /** Velocities, float64 (numAtoms, 3). */
    torch::Tensor velocities() const;
    /** Store velocities (float64 (numAtoms, 3)); the inverse masses stay. */
    void setVelocities(const torch::Tensor& v);
private:
    torch::Tensor xyz, correction, velocity;  // (numAtoms, 3) views of the arrays
};

/**
 * What each row of the arrays holds: its bead, its mass and its periodic shift.  OpenMM may
 * move a whole molecule by box vectors when it reorders atoms (posCellOffsets); the true
 * position of row s is then the stored one minus shift[s].  Built on the host each time the
 * atom order or the shifts change, used on the device every step.
 */
class CudaCGMLSlots {
public:
    /**
     * @param atomIndex       the atom held by each row (at least numAtoms rows)
     * @param beadOfParticle  the bead of each atom
     * @param particleMass    the mass of each atom
     * @param beadMass        the total mass of each bead
     * @param shifts          the periodic shift of each row, or empty if there is none
     */
    CudaCGMLSlots(const std::vector<int>& atomIndex, const std::vector<int>& beadOfParticle, const std::vector<double>& particleMass,
                  const std::vector<double>& beadMass, const std::vector<OpenMM::Vec3>& shifts, const torch::Device& device);
    /** Mass-weighted bead centres (float64 (numBeads, 3)) of stored positions, shifts removed. */
    torch::Tensor centres(const torch::Tensor& positions) const;
    /** Each row's value of a per-bead displacement: (numBeads, 3) -> (numAtoms, 3); massless rows get 0 (they never move). */
    torch::Tensor perRow(const torch::Tensor& beadValues) const;
    /** Kinetic energy of the bead centres of mass from per-row velocities. */
    double kineticEnergy(const torch::Tensor& velocities) const;
private:
    torch::Tensor beadOfRow;   // int64 (numAtoms,)
    torch::Tensor massOfRow;   // float64 (numAtoms, 1)
    torch::Tensor shiftOfRow;  // float64 (numAtoms, 3), undefined if no row is shifted
    torch::Tensor beadMass;    // float64 (numBeads, 1)
};

} // namespace CGMLPlugin

#endif /*CUDA_CGML_ATOMS_H_*/
