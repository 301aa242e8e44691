// The CUDA kernel's bead arithmetic on arrays laid out like OpenMM's CUDA context (sorted rows,
// padding, float4/double4, the mixed-precision correction, periodic shifts), run on the CPU.

#include "CudaCGMLAtoms.h"
#include "openmm/internal/AssertionUtilities.h"
#include <iostream>
#include <string>

using namespace CGMLPlugin;
using namespace OpenMM;
using namespace std;

static const int numAtoms = 5, rows = 8;  // rows past numAtoms are padding
static const vector<int> beadOf = {0, 0, 1, 1, 1};
static const vector<double> mass = {12.0, 1.0, 14.0, 16.0, 2.0};
static const vector<double> beadMass = {13.0, 32.0};
static const vector<int> atomIndex = {3, 0, 4, 1, 2, 5, 6, 7};  // the atom held by each row

static Vec3 truePosition(int atom) {
    return Vec3(1.0 + 0.123456789 * atom, -0.5 + 0.1 * atom * atom, 2.0 / (atom + 1));
}

static double component(const torch::Tensor& t, int row, int d) {
    return t[row][d].item<double>();
}

/** Checks one precision: "single", "mixed" or "double". */
static void testPrecision(const string& precision) {
    bool doubles = (precision == "double"), mixed = (precision == "mixed");
    double tol = (precision == "single" ? 1e-6 : 1e-12);
    torch::ScalarType real = doubles ? torch::kFloat64 : torch::kFloat32;
    torch::Tensor posq = torch::full({rows, 4}, -7.0, real);
    torch::Tensor correction = mixed ? torch::zeros({rows, 4}, torch::kFloat32) : torch::Tensor();
    torch::Tensor velm = torch::full({rows, 4}, -7.0, (doubles || mixed) ? torch::kFloat64 : torch::kFloat32);
    // Rows 1 and 3 sit one box vector away from the atoms' true positions.
    Vec3 box[3] = {Vec3(3, 0, 0), Vec3(0.5, 3, 0), Vec3(0, 0, 4)};
    vector<Vec3> shifts(rows);
    shifts[1] = box[0];
    shifts[3] = box[1] * -1.0 + box[2];
    for (int s = 0; s < numAtoms; s++) {
        Vec3 x = truePosition(atomIndex[s]) + shifts[s];
        for (int d = 0; d < 3; d++) {
            posq[s][d] = x[d];
            if (mixed)
                correction[s][d] = x[d] - (double) (float) x[d];
        }
        posq[s][3] = 0.25;
        velm[s][3] = 1.0 / mass[atomIndex[s]];
    }
    CudaCGMLAtoms atoms(posq, correction, velm, numAtoms);
    CudaCGMLSlots slots(atomIndex, beadOf, mass, beadMass, shifts, torch::kCPU);
    torch::Tensor x = atoms.positions();
    for (int s = 0; s < numAtoms; s++)
        ASSERT_EQUAL_VEC(truePosition(atomIndex[s]) + shifts[s], Vec3(component(x, s, 0), component(x, s, 1), component(x, s, 2)), tol);

    // Bead centres are mass-weighted means of the true (unshifted) positions.
    torch::Tensor centres = slots.centres(x);
    for (int b = 0; b < 2; b++) {
        Vec3 expected;
        for (int atom = 0; atom < numAtoms; atom++)
            if (beadOf[atom] == b)
                expected += truePosition(atom) * (mass[atom] / beadMass[b]);
        ASSERT_EQUAL_VEC(expected, Vec3(component(centres, b, 0), component(centres, b, 1), component(centres, b, 2)), tol);
    }

    // Every atom moves with its bead; velocities are the displacement over the step.
    torch::Tensor displacement = torch::tensor({0.1, 0.2, -0.3, 1e-9, -2e-9, 3e-9}, torch::kFloat64).view({2, 3});
    torch::Tensor d = slots.perRow(displacement);
    atoms.setPositions(x + d);
    atoms.setVelocities(d / 0.5);
    torch::Tensor moved = atoms.positions(), v = atoms.velocities();
    for (int s = 0; s < numAtoms; s++) {
        int b = beadOf[atomIndex[s]];
        Vec3 step(component(displacement, b, 0), component(displacement, b, 1), component(displacement, b, 2));
        Vec3 x0 = truePosition(atomIndex[s]) + shifts[s];
        ASSERT_EQUAL_VEC(x0 + step, Vec3(component(moved, s, 0), component(moved, s, 1), component(moved, s, 2)), tol);
        ASSERT_EQUAL_VEC(step * 2.0, Vec3(component(v, s, 0), component(v, s, 1), component(v, s, 2)), tol);
        if (mixed)  // the nanometre-scale move of bead 1 survives only through the correction
            ASSERT(fabs(component(moved, s, 0) - x0[0] - step[0]) < 1e-13);
        ASSERT_EQUAL(0.25, component(posq, s, 3));
        ASSERT_EQUAL_TOL(1.0 / mass[atomIndex[s]], component(velm, s, 3), 1e-7);
    }
    for (int s = numAtoms; s < rows; s++)
        for (int d = 0; d < 4; d++) {
            ASSERT_EQUAL(-7.0, component(posq, s, d));
            ASSERT_EQUAL(-7.0, component(velm, s, d));
        }

    // The kinetic energy of the bead centres of mass.
    double expected = 0;
    for (int b = 0; b < 2; b++) {
        Vec3 u(2 * component(displacement, b, 0), 2 * component(displacement, b, 1), 2 * component(displacement, b, 2));
        expected += 0.5 * beadMass[b] * u.dot(u);
    }
    ASSERT_EQUAL_TOL(expected, slots.kineticEnergy(v), tol);
}

int main() {
    try {
        for (const string& precision : {"single", "mixed", "double"})
            testPrecision(precision);
    }
    catch (const exception& e) {
        cout << "exception: " << e.what() << endl;
        return 1;
    }
    cout << "Done" << endl;
    return 0;
}
