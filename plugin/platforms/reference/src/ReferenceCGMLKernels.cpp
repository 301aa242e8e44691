#include "ReferenceCGMLKernels.h"
#include "internal/CGMLBundle.h"
#include "internal/CGMLThreads.h"
#include "openmm/OpenMMException.h"
#include "openmm/reference/ReferencePlatform.h"
#include <ATen/CPUGeneratorImpl.h>
#include <cmath>

using namespace CGMLPlugin;
using namespace OpenMM;
using std::vector;

static vector<Vec3>& extractPositions(ContextImpl& context) {
    ReferencePlatform::PlatformData* data = reinterpret_cast<ReferencePlatform::PlatformData*>(context.getPlatformData());
    return *data->positions;
}

static vector<Vec3>& extractVelocities(ContextImpl& context) {
    ReferencePlatform::PlatformData* data = reinterpret_cast<ReferencePlatform::PlatformData*>(context.getPlatformData());
    return *data->velocities;
}

void ReferenceIntegrateCGMLStepKernel::initialize(const System& system, const CGMLIntegrator& integrator) {
    beads.reset(new CGMLBeads(system, integrator));
    embedding = integrator.getParsedBundle().embed(*beads);
    history.reset(new CGMLHistory(integrator.getHistoryLength(), beads->numBeads, torch::kCPU));
    random.reset(new CGMLRandom(at::make_generator<at::CPUGeneratorImpl>(), chooseSeed(integrator.getRandomNumberSeed())));
    threads = -1;
    trainingRange.reset(new CGMLGuard(integrator.getParsedBundle(), *beads, integrator.getProperties().at("CheckTrainingRange")));
    molecules.reset(new CGMLMolecules(*beads, integrator.getProperties().at("IndependentMolecules")));
}

torch::Tensor ReferenceIntegrateCGMLStepKernel::beadCentres(const vector<Vec3>& positions) const {
    torch::Tensor centres = torch::zeros({beads->numBeads, 3}, torch::kFloat64);
    double* c = centres.data_ptr<double>();
    for (size_t i = 0; i < positions.size(); i++) {
        double m = beads->particleMass[i];
        double* bead = c + 3 * beads->beadOfParticle[i];
        for (int d = 0; d < 3; d++)
            bead[d] += m * positions[i][d];
    }
    bool finite = true;
    for (int b = 0; b < beads->numBeads; b++)
        for (int d = 0; d < 3; d++) {
            c[3 * b + d] /= beads->beadMass[b];
            finite &= std::isfinite(c[3 * b + d]);
        }
    if (!finite)
        for (size_t i = 0; i < positions.size(); i++)
            if (!std::isfinite(positions[i][0]) || !std::isfinite(positions[i][1]) || !std::isfinite(positions[i][2]))
                throw OpenMMException("CGMLIntegrator: the position of particle " + std::to_string(i) +
                                      " is NaN or infinite; no step was taken");
    return centres;
}

void ReferenceIntegrateCGMLStepKernel::execute(ContextImpl& context, const CGMLIntegrator& integrator) {
    vector<Vec3>& positions = extractPositions(context);
    vector<Vec3>& velocities = extractVelocities(context);
    torch::Tensor current = beadCentres(positions);
    // Another integrator may have moved the atoms since our last step (CompoundIntegrator).
    const torch::Tensor& frames = history->prepare(current, context.getStepCount());
    if (threads < 0)
        threads = torchThreads(context, integrator);
    torch::Tensor shift = molecules->active() ? molecules->offsets(frames) : torch::Tensor();
    torch::Tensor next;
    {
        TorchThreads scope(threads);
        next = integrator.getParsedBundle().step(embedding, shift.defined() ? frames + shift : frames, beads->beadBondIndex,
                                                 random->forStep(context.getStepCount()), beads->numBeads);
    }
    trainingRange->apply(next.data_ptr<double>());  // with the molecules apart, pairs within molecules only
    if (shift.defined())
        next = next - shift;
    // Nothing in the Context has been touched before this point, so a failed step leaves it as it was.
    double dt = integrator.getStepSize();
    const double* from = current.data_ptr<double>();
    const double* to = next.data_ptr<double>();
    for (size_t i = 0; i < positions.size(); i++) {
        if (beads->particleMass[i] == 0)
            continue;  // massless particles stay where they are, as in every OpenMM integrator
        size_t b = 3 * beads->beadOfParticle[i];
        Vec3 displacement(to[b] - from[b], to[b + 1] - from[b + 1], to[b + 2] - from[b + 2]);
        positions[i] += displacement;
        velocities[i] = displacement / dt;
    }
    context.computeVirtualSites();
    context.setTime(context.getTime() + dt);
    context.setStepCount(context.getStepCount() + 1);
    history->advance(next, context.getStepCount());
}

double ReferenceIntegrateCGMLStepKernel::computeKineticEnergy(ContextImpl& context, const CGMLIntegrator& integrator) {
    const vector<Vec3>& velocities = extractVelocities(context);
    vector<Vec3> momentum(beads->numBeads);
    for (size_t i = 0; i < velocities.size(); i++)
        momentum[beads->beadOfParticle[i]] += velocities[i] * beads->particleMass[i];
    double energy = 0;
    for (int b = 0; b < beads->numBeads; b++)
        energy += 0.5 * momentum[b].dot(momentum[b]) / beads->beadMass[b];
    return energy * beads->kineticScale;
}

void ReferenceIntegrateCGMLStepKernel::resetHistory() {
    history->reset();
}

void ReferenceIntegrateCGMLStepKernel::createCheckpoint(ContextImpl& context, std::ostream& stream) const {
    history->write(stream, random->seed);
}

void ReferenceIntegrateCGMLStepKernel::loadCheckpoint(ContextImpl& context, std::istream& stream) {
    random->seed = history->read(stream);
}
