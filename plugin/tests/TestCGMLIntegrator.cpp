// One test body for every platform the plugin supports:
//     TestCGMLIntegrator PLATFORM PLUGIN_DIR [LIBRARY.so ...] [PROPERTY=VALUE ...]
// loads OpenMM's plugins from PLUGIN_DIR, then each LIBRARY (OpenMM's own platforms first, then
// this plugin's kernels), and runs every test on PLATFORM with the given platform properties
// (e.g. Precision=mixed).  Exit code 77: PLATFORM cannot run here (no such device), skipped.

#include "CGMLIntegrator.h"
#include "StandinPropagators.h"
#include "openmm/CompoundIntegrator.h"
#include "openmm/Context.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/LangevinMiddleIntegrator.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"
#include "openmm/internal/AssertionUtilities.h"
#include "openmm/serialization/XmlSerializer.h"
#include <cmath>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

using namespace CGMLPlugin;
using namespace CGMLTest;
using namespace OpenMM;
using namespace std;

extern "C" void registerCGMLReferenceKernelFactories();

static Platform* platform;
static map<string, string> properties;  // the tested platform's properties
static double tol = 1e-9;               // positions and velocities; looser in single precision

static unique_ptr<Context> makeContext(const System& system, Integrator& integrator, Platform* on = NULL) {
    if (on != NULL && on != platform)
        return unique_ptr<Context>(new Context(system, integrator, *on));
    return unique_ptr<Context>(new Context(system, integrator, *platform, properties));
}

// Six particles in three beads of two, with unequal masses and a chain of bonds.
static const int numParticles = 6;
static const vector<int> beadOf = {0, 0, 1, 1, 2, 2};
static const double masses[] = {12.0, 1.0, 14.0, 16.0, 12.0, 12.0};

static System* makeSystem() {
    System* system = new System();
    HarmonicBondForce* bonds = new HarmonicBondForce();
    for (int i = 0; i < numParticles; i++) {
        system->addParticle(masses[i]);
        if (i > 0)
            bonds->addBond(i - 1, i, 0.15, 1000.0);
    }
    system->addForce(bonds);
    return system;
}

static vector<Vec3> startPositions() {
    vector<Vec3> positions;
    for (int i = 0; i < numParticles; i++)
        positions.push_back(Vec3(0.15 * i, 0.1 * (i % 2), 0.05 * (i % 3)));
    return positions;
}

static void configure(CGMLIntegrator& integrator) {
    integrator.setBeadAssignment(beadOf);
    vector<pair<int, int> > bonds;
    for (int i = 1; i < numParticles; i++)
        bonds.push_back(make_pair(i - 1, i));
    integrator.setAtomBonds(bonds);
}

static vector<Vec3> centres(const vector<Vec3>& positions) {
    vector<Vec3> c(3);
    vector<double> m(3, 0.0);
    for (int i = 0; i < numParticles; i++) {
        c[beadOf[i]] += positions[i] * masses[i];
        m[beadOf[i]] += masses[i];
    }
    for (int b = 0; b < 3; b++)
        c[b] /= m[b];
    return c;
}

static vector<Vec3> getPositions(Context& context) {
    return context.getState(State::Positions).getPositions();
}

/** The six-particle System, a configured CGMLIntegrator and a Context at the start positions. */
struct Run {
    Run(const string& bundle, double stepSize, int seed = 0, Platform* on = NULL, const map<string, string>& options = {})
            : system(makeSystem()), integrator(bundle, stepSize) {
        configure(integrator);
        integrator.setRandomNumberSeed(seed);
        for (const auto& option : options)
            integrator.setProperty(option.first, option.second);
        context = makeContext(*system, integrator, on);
        context->setPositions(startPositions());
    }
    vector<Vec3> positions() {
        return getPositions(*context);
    }
    unique_ptr<System> system;
    CGMLIntegrator integrator;
    unique_ptr<Context> context;  // declared last: destroyed before the integrator and the System
};

void testDrift() {
    Run run(driftBundle(2.0), 2.0);
    vector<Vec3> start = startPositions();
    run.integrator.step(5);
    State state = run.context->getState(State::Positions | State::Velocities | State::Energy);
    ASSERT_EQUAL_TOL(10.0, state.getTime(), 1e-12);
    ASSERT_EQUAL(5, state.getStepCount());
    vector<Vec3> c0 = centres(start), c = centres(state.getPositions());
    double beadMass[] = {13.0, 30.0, 24.0};
    double kinetic = 0;
    for (int b = 0; b < 3; b++) {
        Vec3 v = Vec3(0.3, -0.2, 0.1) * (beadMass[b] / 10.0);
        ASSERT_EQUAL_VEC(c0[b] + v * 10.0, c[b], tol);
        kinetic += 0.5 * beadMass[b] * v.dot(v);
    }
    // Atoms move rigidly with their bead and take its velocity.
    for (int i = 0; i < numParticles; i++) {
        Vec3 v = Vec3(0.3, -0.2, 0.1) * (beadMass[beadOf[i]] / 10.0);
        ASSERT_EQUAL_VEC(start[i] + v * 10.0, state.getPositions()[i], tol);
        ASSERT_EQUAL_VEC(v, state.getVelocities()[i], tol);
    }
    // Reported scaled to the System's degrees of freedom: 18 (six particles) over 9 (three bead centres).
    ASSERT_EQUAL_TOL(2.0 * kinetic, state.getKineticEnergy(), tol);
}

void testContraction() {
    Run run(contractBundle(1.0), 1.0);
    vector<Vec3> c0 = centres(startPositions());
    Vec3 centroid = (c0[0] + c0[1] + c0[2]) / 3.0;
    for (int n = 1; n <= 4; n++) {
        run.integrator.step(1);
        vector<Vec3> c = centres(run.positions());
        for (int b = 0; b < 3; b++)
            ASSERT_EQUAL_VEC(centroid + (c0[b] - centroid) * pow(0.5, n), c[b], tol);
    }
}

void testHistory() {
    Run run(verletBundle(1.0), 1.0);
    Vec3 a(0.01, 0.02, -0.03);
    vector<Vec3> c0 = centres(startPositions());
    run.integrator.step(4);
    for (int b = 0; b < 3; b++)
        ASSERT_EQUAL_VEC(c0[b] + a * 10.0, centres(run.positions())[b], tol);
    // setPositions resets the history: the sequence starts again from the new frame.
    run.context->setPositions(startPositions());
    run.integrator.step(2);
    for (int b = 0; b < 3; b++)
        ASSERT_EQUAL_VEC(c0[b] + a * 3.0, centres(run.positions())[b], tol);
}

void testSeedReproducible() {
    auto trajectory = [](int seed) {
        Run run(noiseBundle(1.0), 1.0, seed);
        run.integrator.step(10);
        return run.positions();
    };
    vector<Vec3> a = trajectory(5), b = trajectory(5), c = trajectory(6);
    double differs = 0;
    for (int i = 0; i < numParticles; i++) {
        ASSERT_EQUAL_VEC(a[i], b[i], tol);
        differs += (a[i] - c[i]).dot(a[i] - c[i]);
    }
    ASSERT(differs > 1e-6);
}

void testCompoundIntegrator() {
    unique_ptr<System> system(makeSystem());
    CompoundIntegrator compound;
    CGMLIntegrator* cg = new CGMLIntegrator(verletBundle(1.0), 1.0);
    configure(*cg);
    compound.addIntegrator(cg);
    compound.addIntegrator(new LangevinMiddleIntegrator(300.0, 1.0, 0.001));
    Context context(*system, compound, *platform, properties);
    vector<Vec3> start = startPositions();
    context.setPositions(start);
    Vec3 a(0.01, 0.02, -0.03);
    for (int round = 0; round < 3; round++) {
        compound.setCurrentIntegrator(0);
        vector<Vec3> c0 = centres(getPositions(context));
        compound.step(3);
        // After any switch the history restarts from the current frame: x_3 = x_0 + 6a.
        for (int b = 0; b < 3; b++)
            ASSERT_EQUAL_VEC(c0[b] + a * 6.0, centres(getPositions(context))[b], tol);
        compound.setCurrentIntegrator(1);
        context.setVelocitiesToTemperature(300.0);
        vector<Vec3> before = getPositions(context);
        compound.step(20);
        vector<Vec3> after = getPositions(context);
        ASSERT((after[0] - before[0]).dot(after[0] - before[0]) > 0);
        ASSERT(std::isfinite(context.getState(State::Energy).getPotentialEnergy()));
    }
}

void testSerialization() {
    unique_ptr<System> system(makeSystem());
    CGMLIntegrator integrator(noiseBundle(1.0), 1.0);
    configure(integrator);
    integrator.setRandomNumberSeed(11);
    integrator.setProperty("CUDAGraphWarmupSteps", "3");
    stringstream xml;
    XmlSerializer::serialize<Integrator>(&integrator, "Integrator", xml);
    unique_ptr<Integrator> copy(XmlSerializer::deserialize<Integrator>(xml));
    CGMLIntegrator* cgCopy = dynamic_cast<CGMLIntegrator*>(copy.get());
    ASSERT(cgCopy != NULL);
    ASSERT(cgCopy->getBundle() == integrator.getBundle());
    ASSERT(cgCopy->getBeadAssignment() == integrator.getBeadAssignment());
    ASSERT(cgCopy->getAtomBonds() == integrator.getAtomBonds());
    ASSERT_EQUAL(11, cgCopy->getRandomNumberSeed());
    ASSERT(cgCopy->getProperties() == integrator.getProperties());
    Context c1(*system, integrator, *platform, properties), c2(*system, *copy, *platform, properties);
    c1.setPositions(startPositions());
    c2.setPositions(startPositions());
    integrator.step(5);
    copy->step(5);
    vector<Vec3> p1 = getPositions(c1), p2 = getPositions(c2);
    for (int i = 0; i < numParticles; i++)
        ASSERT_EQUAL_VEC(p1[i], p2[i], tol);
}

void testCheckpoint() {
    Run run(noiseBundle(1.0), 1.0, 3);
    run.integrator.step(4);
    stringstream checkpoint;
    run.context->createCheckpoint(checkpoint);
    run.integrator.step(4);
    vector<Vec3> expected = run.positions();
    run.context->loadCheckpoint(checkpoint);
    ASSERT_EQUAL(4, run.context->getState(0).getStepCount());
    run.integrator.step(4);
    vector<Vec3> found = run.positions();
    for (int i = 0; i < numParticles; i++)
        ASSERT_EQUAL_VEC(expected[i], found[i], tol);
}

static void expectError(const string& fragment, function<void()> action) {
    try {
        action();
    }
    catch (OpenMMException& e) {
        if (string(e.what()).find(fragment) == string::npos)
            throw OpenMMException("expected an error containing '" + fragment + "', got: " + e.what());
        return;
    }
    throw OpenMMException("expected an error containing '" + fragment + "', got none");
}

void testBadInput() {
    unique_ptr<System> system(makeSystem());
    expectError("cannot open bundle file", [] { CGMLIntegrator("/nonexistent/model.pt", 1.0); });
    expectError("no method 'embed'", [] {
        torch::jit::Module module("NoEmbed");
        module.register_attribute("history_length", c10::IntType::get(), 1);
        module.register_attribute("timestep_ps", c10::FloatType::get(), 1.0);
        module.define("def step(self, e: Tensor, h: Tensor, b: Tensor, g: Generator) -> Tensor:\n    return h[-1]\n");
        ostringstream bytes;
        module.save(bytes);
        CGMLIntegrator(bytes.str(), 1.0);
    });
    expectError("not a loadable TorchScript module", [] { CGMLIntegrator(string("PK\x03\x04garbage", 11), 1.0); });
    expectError("must be positive", [] { CGMLIntegrator(driftBundle(1.0), -1.0); });
    expectError("does not match the bundle's CG step", [] { CGMLIntegrator(driftBundle(1.0), 2.0); });
    expectError("unknown property 'useGraphs'", [] { CGMLIntegrator(driftBundle(1.0), 1.0).setProperty("useGraphs", "true"); });
    expectError("must be \"true\" or \"false\"", [] { CGMLIntegrator(driftBundle(1.0), 1.0).setProperty("useCUDAGraphs", "yes"); });
    expectError("CUDAGraphWarmupSteps must be an integer >= 1", [] { CGMLIntegrator(driftBundle(1.0), 1.0).setProperty("CUDAGraphWarmupSteps", "0"); });
    auto contextWith = [&](const string& bundle, vector<int> beads, function<void(CGMLIntegrator&)> step) {
        CGMLIntegrator integrator(bundle, 1.0);
        integrator.setBeadAssignment(beads);
        Context context(*system, integrator, *platform, properties);
        context.setPositions(startPositions());
        step(integrator);
    };
    auto noStep = [](CGMLIntegrator&) {};
    expectError("has 5 entries but the System has 6 particles", [&] { contextWith(driftBundle(1.0), {0, 0, 1, 1, 2}, noStep); });
    expectError("no particle is in bead 1", [&] { contextWith(driftBundle(1.0), {0, 0, 2, 2, 3, 3}, noStep); });
    expectError("zero total mass", [&] {
        System massless;
        massless.addParticle(0.0);
        massless.addParticle(1.0);
        CGMLIntegrator integrator(driftBundle(1.0), 1.0);
        integrator.setBeadAssignment({0, 1});
        Context context(massless, integrator, *platform, properties);
    });
    // A failing step leaves the Context's positions as they were.
    for (auto bad : {make_pair(string("x[:2]"), string("returned shape")), make_pair(string("x * float('nan')"), string("NaN or infinite")),
                     make_pair(string("x / 0.0"), string("NaN or infinite"))}) {
        CGMLIntegrator integrator(badOutputBundle(bad.first), 1.0);
        integrator.setBeadAssignment(beadOf);
        Context context(*system, integrator, *platform, properties);
        context.setPositions(startPositions());
        vector<Vec3> before = getPositions(context);
        expectError(bad.second, [&] { integrator.step(1); });
        vector<Vec3> after = getPositions(context);
        for (int i = 0; i < numParticles; i++)
            ASSERT_EQUAL_VEC(before[i], after[i], 0.0);
        ASSERT_EQUAL(0, context.getState(0).getStepCount());
    }
}

#include "TestCGMLMolecules.h"

/** The tested platform follows the Reference platform's trajectories of deterministic propagators. */
void testMatchesReference() {
    Platform& reference = Platform::getPlatformByName("Reference");
    for (const string& bundle : {driftBundle(1.0), contractBundle(1.0), verletBundle(1.0)}) {
        Run expected(bundle, 1.0, 0, &reference), found(bundle, 1.0);
        for (int n = 0; n < 4; n++) {
            expected.integrator.step(1);
            found.integrator.step(1);
            State a = expected.context->getState(State::Positions | State::Velocities);
            State b = found.context->getState(State::Positions | State::Velocities);
            for (int i = 0; i < numParticles; i++) {
                ASSERT_EQUAL_VEC(a.getPositions()[i], b.getPositions()[i], tol);
                ASSERT_EQUAL_VEC(a.getVelocities()[i], b.getVelocities()[i], tol);
            }
        }
    }
}

/** With useCUDAGraphs the trajectories are the ones without graphs, random numbers included. */
void testCUDAGraphs() {
    map<string, string> graphs = {{"useCUDAGraphs", "true"}, {"CUDAGraphWarmupSteps", "2"}};
    for (const string& bundle : {verletBundle(1.0), noiseBundle(1.0)}) {
        Run eager(bundle, 1.0, 7), recorded(bundle, 1.0, 7, NULL, graphs);
        for (int round = 0; round < 3; round++) {
            if (round == 2) {  // a fresh history, written into the storage the graph reads
                eager.context->setPositions(startPositions());
                recorded.context->setPositions(startPositions());
            }
            eager.integrator.step(3);
            recorded.integrator.step(3);
            vector<Vec3> a = eager.positions(), b = recorded.positions();
            for (int i = 0; i < numParticles; i++)
                ASSERT_EQUAL_VEC(a[i], b[i], tol);
        }
    }
    // Each replay draws new random numbers.
    Run noisy(noiseBundle(1.0), 1.0, 7, NULL, graphs);
    vector<Vec3> x0 = noisy.positions();
    noisy.integrator.step(1);
    vector<Vec3> x1 = noisy.positions();
    noisy.integrator.step(1);
    vector<Vec3> x2 = noisy.positions();
    Vec3 change = (x2[0] - x1[0]) - (x1[0] - x0[0]);
    ASSERT(change.dot(change) > 1e-6);
    // A bundle that breaks the contract fails before recording and leaves the Context as it was.
    Run bad(badOutputBundle("x / 0.0"), 1.0, 0, NULL, graphs);
    vector<Vec3> before = bad.positions();
    expectError("NaN or infinite", [&] { bad.integrator.step(1); });
    vector<Vec3> after = bad.positions();
    for (int i = 0; i < numParticles; i++)
        ASSERT_EQUAL_VEC(before[i], after[i], 0.0);
}

#include "TestCGMLReliability.h"

/** Whether the platform can create a Context here (has a device); if not, says why. */
static bool canRun(const string& name) {
    try {
        System system;
        system.addParticle(1.0);
        VerletIntegrator integrator(0.001);
        Context context(system, integrator, Platform::getPlatformByName(name), properties);
        return true;
    }
    catch (const exception& e) {
        cout << "skipped: the " << name << " platform cannot run here: " << e.what() << endl;
        for (const string& failure : Platform::getPluginLoadFailures())
            cout << "  plugin load failure: " << failure << endl;
        return false;
    }
}

int main(int argc, char* argv[]) {
    try {
        if (argc < 3)
            throw OpenMMException("usage: TestCGMLIntegrator PLATFORM PLUGIN_DIR [LIBRARY.so ...] [PROPERTY=VALUE ...]");
        Platform::loadPluginsFromDirectory(argv[2]);
        registerCGMLReferenceKernelFactories();
        for (int i = 3; i < argc; i++) {
            string arg = argv[i];
            size_t equals = arg.find('=');
            if (equals != string::npos)
                properties[arg.substr(0, equals)] = arg.substr(equals + 1);
            else {
                try {
                    Platform::loadPluginLibrary(arg);
                }
                catch (const exception& e) {
                    cout << "skipped: cannot load " << arg << ": " << e.what() << endl;
                    return 77;
                }
            }
        }
        if (!canRun(argv[1]))
            return 77;
        platform = &Platform::getPlatformByName(argv[1]);
        if (properties.count("Precision") && properties["Precision"] == "single")
            tol = 1e-5;
        testDrift();
        testContraction();
        testHistory();
        testSeedReproducible();
        testCompoundIntegrator();
        testSerialization();
        testCheckpoint();
        testBadInput();
        testReliability();
        testIndependentMolecules();
        if (platform->getName() != "Reference")
            testMatchesReference();
        if (platform->getName() == "CUDA")
            testCUDAGraphs();
    }
    catch (const exception& e) {
        cout << "exception: " << e.what() << endl;
        return 1;
    }
    cout << "Done" << endl;
    return 0;
}
