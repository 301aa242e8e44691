#include "CudaCGMLAtoms.h"
#include "openmm/OpenMMException.h"

using namespace CGMLPlugin;
using OpenMM::OpenMMException;
using OpenMM::Vec3;
using std::vector;

static torch::Tensor firstThree(const torch::Tensor& array, int numAtoms) {
    if (array.dim() != 2 || array.size(1) != 4 || array.size(0) < numAtoms)
        throw OpenMMException("CGMLIntegrator: an atom array does not have 4 columns and at least one row per atom");
    return array.narrow(0, 0, numAtoms).narrow(1, 0, 3);
}

CudaCGMLAtoms::CudaCGMLAtoms(const torch::Tensor& posq, const torch::Tensor& posqCorrection, const torch::Tensor& velm, int numAtoms) {
    xyz = firstThree(posq, numAtoms);
    if (posqCorrection.defined())
        correction = firstThree(posqCorrection, numAtoms);
    velocity = firstThree(velm, numAtoms);
}

torch::Tensor CudaCGMLAtoms::positions() const {
    torch::Tensor x = xyz.to(torch::kFloat64);
    if (correction.defined())
        x += correction.to(torch::kFloat64);
    return x;
}

void CudaCGMLAtoms::setPositions(const torch::Tensor& x) {
    if (correction.defined()) {
        // Mixed precision: posq holds the float nearest the position, the correction the rest.
        torch::Tensor rounded = x.to(torch::kFloat32);
        xyz.copy_(rounded);
        correction.copy_(x - rounded.to(torch::kFloat64));
    }
    else
        xyz.copy_(x);
}

torch::Tensor CudaCGMLAtoms::velocities() const {
    return velocity.to(torch::kFloat64);
}

void CudaCGMLAtoms::setVelocities(const torch::Tensor& v) {
    velocity.copy_(v);
}

CudaCGMLSlots::CudaCGMLSlots(const vector<int>& atomIndex, const vector<int>& beadOfParticle, const vector<double>& particleMass,
                             const vector<double>& beadMass, const vector<Vec3>& shifts, const torch::Device& device) {
    const size_t n = beadOfParticle.size();
    if (atomIndex.size() < n || (!shifts.empty() && shifts.size() < n))
        throw OpenMMException("CGMLIntegrator: the context's atom order does not cover every atom");
    vector<int64_t> bead(n);
    vector<double> mass(n), shift;
    for (size_t s = 0; s < n; s++) {
        int atom = atomIndex[s];
        bead[s] = beadOfParticle[atom];
        mass[s] = particleMass[atom];
        if (!shifts.empty())
            for (int d = 0; d < 3; d++)
                shift.push_back(shifts[s][d]);
    }
    torch::TensorOptions doubles = torch::TensorOptions().dtype(torch::kFloat64).device(device);
    beadOfRow = torch::tensor(bead, torch::kInt64).to(device);
    massOfRow = torch::tensor(mass, torch::kFloat64).view({(long) n, 1}).to(doubles);
    if (!shift.empty())
        shiftOfRow = torch::tensor(shift, torch::kFloat64).view({(long) n, 3}).to(doubles);
    this->beadMass = torch::tensor(beadMass, torch::kFloat64).view({(long) beadMass.size(), 1}).to(doubles);
}

torch::Tensor CudaCGMLSlots::centres(const torch::Tensor& positions) const {
    torch::Tensor x = shiftOfRow.defined() ? positions - shiftOfRow : positions;
    torch::Tensor sums = torch::zeros({beadMass.size(0), 3}, positions.options());
    return sums.index_add_(0, beadOfRow, x * massOfRow) / beadMass;
}

torch::Tensor CudaCGMLSlots::perRow(const torch::Tensor& beadValues) const {
    return beadValues.index_select(0, beadOfRow) * (massOfRow > 0).to(beadValues.scalar_type());
}

double CudaCGMLSlots::kineticEnergy(const torch::Tensor& velocities) const {
    torch::Tensor momentum = torch::zeros({beadMass.size(0), 3}, velocities.options());
    momentum.index_add_(0, beadOfRow, velocities * massOfRow);
    return 0.5 * (momentum.square().sum(1, true) / beadMass).sum().item<double>();
}
