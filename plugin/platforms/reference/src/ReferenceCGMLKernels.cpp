#include "ReferenceCGMLKernels.h"
#include "internal/CGMLBundle.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/OSRngSeed.h"
#include "openmm/reference/ReferencePlatform.h"
#include <ATen/CPUGeneratorImpl.h>
#include <cstring>

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

/** A 64-bit mix (splitmix64) so that nearby (seed, step) pairs give unrelated generator seeds. */
static uint64_t mixSeed(uint64_t seed, long long step) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (uint64_t) (step + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/**
 * Seeds torch's default CPU generator for one step and puts its previous state back afterwards,
 * so the step is reproducible and the caller's own random stream is left alone.
 */
class SeededGenerator {
public:
    SeededGenerator(uint64_t seed) : generator(at::detail::getDefaultCPUGenerator()) {
        std::lock_guard<std::mutex> lock(generator.mutex());
        saved = generator.get_state();
        generator.set_current_seed(seed);
    }
    ~SeededGenerator() {
        std::lock_guard<std::mutex> lock(generator.mutex());
        generator.set_state(saved);
    }
private:
    at::Generator generator;
    torch::Tensor saved;
};

void ReferenceIntegrateCGMLStepKernel::initialize(const System& system, const CGMLIntegrator& integrator) {
    beads.reset(new CGMLBeads(system, integrator));
    embedding = integrator.getParsedBundle().embed(*beads);
    int k = integrator.getHistoryLength();
    history = torch::zeros({k, beads->numBeads, 3}, torch::kFloat64);
    historyValid = false;
    historyStep = 0;
    int userSeed = integrator.getRandomNumberSeed();
    seed = (uint64_t) (userSeed == 0 ? osrngseed() : userSeed);
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
    for (int b = 0; b < beads->numBeads; b++)
        for (int d = 0; d < 3; d++)
            c[3 * b + d] /= beads->beadMass[b];
    return centres;
}

void ReferenceIntegrateCGMLStepKernel::execute(ContextImpl& context, const CGMLIntegrator& integrator) {
    vector<Vec3>& positions = extractPositions(context);
    vector<Vec3>& velocities = extractVelocities(context);
    torch::Tensor current = beadCentres(positions);
    const size_t frame = 3 * beads->numBeads, k = history.size(0);
    double* frames = history.data_ptr<double>();
    // Another integrator may have moved the atoms since our last step (CompoundIntegrator).
    bool fresh = !historyValid || context.getStepCount() != historyStep;
    for (size_t f = (fresh ? 0 : k - 1); f < k; f++)
        std::memcpy(frames + f * frame, current.data_ptr<double>(), frame * sizeof(double));
    torch::Tensor next;
    {
        SeededGenerator generator(mixSeed(seed, context.getStepCount()));
        next = integrator.getParsedBundle().step(embedding, history, beads->beadBondIndex, beads->numBeads);
    }
    // Nothing in the Context has been touched before this point, so a failed step leaves it as it was.
    double dt = integrator.getStepSize();
    const double* from = current.data_ptr<double>();
    const double* to = next.data_ptr<double>();
    for (size_t i = 0; i < positions.size(); i++) {
        size_t b = 3 * beads->beadOfParticle[i];
        Vec3 displacement(to[b] - from[b], to[b + 1] - from[b + 1], to[b + 2] - from[b + 2]);
        positions[i] += displacement;
        velocities[i] = displacement / dt;
    }
    std::memmove(frames, frames + frame, (k - 1) * frame * sizeof(double));
    std::memcpy(frames + (k - 1) * frame, to, frame * sizeof(double));
    context.setTime(context.getTime() + dt);
    context.setStepCount(context.getStepCount() + 1);
    historyStep = context.getStepCount();
    historyValid = true;
}

double ReferenceIntegrateCGMLStepKernel::computeKineticEnergy(ContextImpl& context, const CGMLIntegrator& integrator) {
    const vector<Vec3>& velocities = extractVelocities(context);
    vector<Vec3> momentum(beads->numBeads);
    for (size_t i = 0; i < velocities.size(); i++)
        momentum[beads->beadOfParticle[i]] += velocities[i] * beads->particleMass[i];
    double energy = 0;
    for (int b = 0; b < beads->numBeads; b++)
        energy += 0.5 * momentum[b].dot(momentum[b]) / beads->beadMass[b];
    return energy;
}

void ReferenceIntegrateCGMLStepKernel::resetHistory() {
    historyValid = false;
}

void ReferenceIntegrateCGMLStepKernel::createCheckpoint(ContextImpl& context, std::ostream& stream) const {
    int k = history.size(0), n = beads->numBeads;
    stream.write((char*) &k, sizeof(int));
    stream.write((char*) &n, sizeof(int));
    stream.write((char*) &historyValid, sizeof(bool));
    stream.write((char*) &historyStep, sizeof(long long));
    stream.write((char*) history.data_ptr<double>(), sizeof(double) * k * n * 3);
}

void ReferenceIntegrateCGMLStepKernel::loadCheckpoint(ContextImpl& context, std::istream& stream) {
    int k, n;
    stream.read((char*) &k, sizeof(int));
    stream.read((char*) &n, sizeof(int));
    if (k != history.size(0) || n != beads->numBeads)
        throw OpenMMException("CGMLIntegrator: the checkpoint holds a history of " + std::to_string(k) + " frames of " +
                              std::to_string(n) + " beads, this integrator needs " + std::to_string(history.size(0)) + " of " +
                              std::to_string(beads->numBeads));
    stream.read((char*) &historyValid, sizeof(bool));
    stream.read((char*) &historyStep, sizeof(long long));
    stream.read((char*) history.data_ptr<double>(), sizeof(double) * k * n * 3);
}
