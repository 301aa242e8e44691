// The promises a user relies on most: checkpoints that continue a run exactly and refuse what is
// not theirs, one random stream per integrator whatever threads do, bundles that are verified and
// checked against what they were trained with, and OpenMM's conventions (massless particles,
// virtual sites, thread counts).  Included by TestCGMLIntegrator.cpp, whose helpers these use.

#include "openmm/VirtualSite.h"
#include <ATen/Parallel.h>
#include <thread>

static vector<Vec3> runSteps(Run& run, int steps) {
    run.integrator.step(steps);
    return run.positions();
}

static void assertSame(const vector<Vec3>& a, const vector<Vec3>& b) {
    ASSERT_EQUAL(a.size(), b.size());
    for (size_t i = 0; i < a.size(); i++)
        ASSERT_EQUAL_VEC(a[i], b[i], 0.0);
}

/** A checkpoint continues a run bit for bit: the history (k = 2 and 3) and the random seed come with it. */
void testCheckpointContinuesExactly() {
    for (const string& bundle : {verletBundle(1.0), noiseBundle(1.0)}) {
        Run run(bundle, 1.0);  // seed 0: each Context picks its own seed, which the checkpoint carries
        run.integrator.step(3);
        stringstream checkpoint;
        run.context->createCheckpoint(checkpoint);
        vector<Vec3> expected = runSteps(run, 4);
        // The same Context...
        stringstream again(checkpoint.str());
        run.context->loadCheckpoint(again);
        assertSame(expected, runSteps(run, 4));
        // ...a new one, whose own seed differs...
        Run other(bundle, 1.0);
        stringstream copy(checkpoint.str());
        other.context->loadCheckpoint(copy);
        assertSame(expected, runSteps(other, 4));
        // ...and a Context reinitialised with its state kept.
        stringstream third(checkpoint.str());
        run.context->loadCheckpoint(third);
        run.context->reinitialize(true);
        assertSame(expected, runSteps(run, 4));
    }
}

/** A checkpoint that is not this integrator's, or is damaged, is refused, and the history stays as it was. */
void testCheckpointRefused() {
    Run run(verletBundle(1.0), 1.0, 3);
    run.integrator.step(3);
    stringstream good;
    run.context->createCheckpoint(good);
    string bytes = good.str();
    auto load = [&](const string& data) {
        stringstream stream(data);
        run.context->loadCheckpoint(stream);
    };
    expectError("it is truncated", [&] { load(bytes.substr(0, bytes.size() - 10)); });
    string corrupt = bytes;
    corrupt[corrupt.size() - 64 - 5] ^= 1;
    expectError("is corrupt (SHA-256 mismatch)", [&] { load(corrupt); });
    {
        unique_ptr<System> system(makeSystem());
        LangevinMiddleIntegrator langevin(300.0, 1.0, 0.001);
        unique_ptr<Context> classical = makeContext(*system, langevin);
        classical->setPositions(startPositions());
        stringstream theirs;
        classical->createCheckpoint(theirs);
        expectError("holds no CGMLIntegrator state", [&] { load(theirs.str()); });
    }
    {
        unique_ptr<System> system(makeSystem());
        CGMLIntegrator twoBeads(verletBundle(1.0), 1.0);
        twoBeads.setBeadAssignment({0, 0, 0, 1, 1, 1});
        unique_ptr<Context> context = makeContext(*system, twoBeads);
        context->setPositions(startPositions());
        stringstream theirs;
        context->createCheckpoint(theirs);
        expectError("holds a history of 2 frames of 2 beads, this integrator needs 2 of 3", [&] { load(theirs.str()); });
    }
    {
        Run otherLength(noiseBundle(1.0), 1.0);  // k = 3
        stringstream theirs;
        otherLength.context->createCheckpoint(theirs);
        expectError("holds a history of 3 frames of 3 beads, this integrator needs 2 of 3", [&] { load(theirs.str()); });
    }
    // After all that, the good checkpoint still continues the run exactly.
    vector<Vec3> expected = runSteps(run, 0);
    load(bytes);
    vector<Vec3> fromGood = runSteps(run, 4);
    Run fresh(verletBundle(1.0), 1.0, 3);
    fresh.integrator.step(3);
    assertSame(runSteps(fresh, 4), fromGood);
}

/** Each integrator draws from its own generator: two Contexts stepped at once in two threads give their
 * single-threaded trajectories, and torch's default generator is not touched. */
void testRandomStreamPerIntegrator() {
    auto alone = [](int seed) {
        Run run(noiseBundle(1.0), 1.0, seed);
        return runSteps(run, 200);
    };
    vector<Vec3> a = alone(5), b = alone(6);
    torch::manual_seed(123);
    torch::Tensor expectedDraw = torch::randn({4}, torch::kFloat64);
    torch::manual_seed(123);
    Run first(noiseBundle(1.0), 1.0, 5), second(noiseBundle(1.0), 1.0, 6);
    std::thread one([&] { first.integrator.step(200); });
    std::thread two([&] { second.integrator.step(200); });
    one.join();
    two.join();
    assertSame(a, first.positions());
    assertSame(b, second.positions());
    ASSERT(torch::equal(expectedDraw, torch::randn({4}, torch::kFloat64)));
}

static string bundleWithMetadata(const torch::jit::Module& module, const string& extra) {
    string metadata = standinMetadata(module);
    return saveModule(module, metadata.substr(0, metadata.size() - 1) + extra + "}");
}

static const char* plainStep = "\ndef step(self, e: Tensor, h: Tensor, b: Tensor, g: Generator) -> Tensor:\n    return h[-1]\n";

/** Bundles are verified and range-checked; inputs must be the features the bundle was trained with. */
void testBundleChecks() {
    expectError("history_length is 0, it must be 1..4096", [] { CGMLIntegrator(makeBundle(plainStep, 0, 1.0), 1.0); });
    {
        torch::jit::Module module = makeModule(plainStep, 1, 1.0);
        module.register_attribute("history_length", c10::IntType::get(), (int64_t) 4294967297LL);
        expectError("history_length is 4294967297", [&] { CGMLIntegrator(saveModule(module, standinMetadata(module)), 1.0); });
    }
    expectError("timestep_ps is inf, it must be finite and positive", [] { CGMLIntegrator(makeBundle(plainStep, 1, INFINITY), 1.0); });
    torch::jit::Module module = makeModule(plainStep, 1, 1.0, {{"weights", vector3(1.0, 2.0, 3.0)}});
    expectError("metadata.json is not valid JSON", [&] { CGMLIntegrator(saveModule(module, "{\"weights_sha256\": "), 1.0); });
    expectError("records no 'weights_sha256'", [&] { CGMLIntegrator(saveModule(module, "{}"), 1.0); });
    CGMLIntegrator(saveModule(module, "{\"weights_sha256\": \"unverified\"}"), 1.0);
    string bytes = saveModule(module, standinMetadata(module));
    CGMLIntegrator verified(bytes, 1.0);
    torch::jit::Module altered = makeModule(plainStep, 1, 1.0, {{"weights", vector3(1.0, 2.0, 3.5)}});
    expectError("weights do not match the SHA-256", [&] { CGMLIntegrator(saveModule(altered, standinMetadata(module)), 1.0); });
    expectError("takes 3 arguments, the propagator contract needs 4", [] {
        CGMLIntegrator(makeBundle("\ndef step(self, e: Tensor, h: Tensor, b: Tensor) -> Tensor:\n    return h[-1]\n", 1, 1.0), 1.0);
    });
    // The features the bundle was trained with.
    string trained = bundleWithMetadata(module, ", \"atom_features\": [\"atomic_number\", \"bond_count\"], "
                                                "\"vocabulary\": {\"atomic_number\": 119, \"bond_count\": 9}");
    unique_ptr<System> system(makeSystem());
    auto contextWith = [&](const vector<vector<int> >& features) {
        CGMLIntegrator integrator(trained, 1.0);
        configure(integrator);
        integrator.setAtomFeatures(features);
        Context context(*system, integrator, *platform, properties);
    };
    vector<vector<int> > good(numParticles, vector<int>{6, 2});
    contextWith(good);
    expectError("no atom features were set, but the bundle was trained with atom features [atomic_number, bond_count]",
                [&] { contextWith({}); });
    expectError("has 1 columns, but the bundle", [&] { contextWith(vector<vector<int> >(numParticles, vector<int>{6})); });
    vector<vector<int> > outside = good;
    outside[4][1] = 9;
    expectError("atom 4 has bond_count = 9, outside the 0..8", [&] { contextWith(outside); });
}

/** Massless particles never move; virtual sites are recomputed after every step. */
void testMasslessAndVirtualSites() {
    System system;
    for (double mass : {12.0, 0.0, 14.0, 16.0, 0.0})
        system.addParticle(mass);
    system.setVirtualSite(4, new TwoParticleAverageSite(0, 3, 0.5, 0.5));  // parents in different beads
    CGMLIntegrator integrator(driftBundle(1.0), 1.0);
    integrator.setBeadAssignment({0, 0, 1, 1, 1});
    Context context(system, integrator, *platform, properties);
    vector<Vec3> start = {Vec3(0, 0, 0), Vec3(0.1, 0, 0), Vec3(0.3, 0, 0), Vec3(0.4, 0.1, 0), Vec3(0.2, 0.05, 0)};
    context.setPositions(start);
    integrator.step(3);
    vector<Vec3> x = getPositions(context);
    ASSERT_EQUAL_VEC(start[1], x[1], 0.0);
    ASSERT((x[0] - start[0]).dot(x[0] - start[0]) > 1e-4);
    ASSERT_EQUAL_VEC((x[0] + x[3]) * 0.5, x[4], tol);
}

/** The Threads property: checked values, and the caller's torch thread count is restored after a step. */
void testThreadsProperty() {
    expectError("Threads must be an integer >= 0, got \"-1\"", [] { CGMLIntegrator(driftBundle(1.0), 1.0).setProperty("Threads", "-1"); });
    expectError("Threads must be an integer >= 0, got \"two\"", [] { CGMLIntegrator(driftBundle(1.0), 1.0).setProperty("Threads", "two"); });
    int before = at::get_num_threads();
    for (const string& threads : {"0", "2"}) {
        Run run(noiseBundle(1.0), 1.0, 4, NULL, {{"Threads", threads}});
        run.integrator.step(2);
        ASSERT_EQUAL(before, at::get_num_threads());
    }
}

void testBadPositions() {
    Run run(driftBundle(1.0), 1.0);
    vector<Vec3> x = startPositions();
    x[4][1] = NAN;
    run.context->setPositions(x);
    expectError("position of particle 4 is NaN", [&] { run.integrator.step(1); });
    unique_ptr<System> system(makeSystem());
    CGMLIntegrator integrator(driftBundle(1.0), 1.0);
    integrator.setBeadAssignment({0, 0, 1, 1, 2, 2147483000});
    expectError("particle 5 has bead number 2147483000; bead numbers run from 0 to at most 5", [&] { makeContext(*system, integrator); });
}

/** Steps outside the training range the bundle records: warned about once, refused under "raise", or not checked. */
void testTrainingRange() {
    // contractBundle halves the beads' distances to their centroid every step.
    torch::jit::Module module = makeModule(R"(
def step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor, generator: Generator) -> Tensor:
    x = history[-1]
    c = x.mean(0, keepdim=True)
    return c + 0.5 * (x - c)
)", 1, 1.0);
    auto withRange = [&](const string& range) { return bundleWithMetadata(module, ", \"training_range\": " + range); };
    string bundle = withRange("{\"closest_pair_nm\": 0.05, \"bond_length_nm\": [0.1, 0.5]}");
    // The start's bead bonds are 0.37 and 0.30 nm: the first step is inside, the second leaves (0.09 nm).
    Run raising(bundle, 1.0, 0, NULL, {{"CheckTrainingRange", "raise"}});
    raising.integrator.step(1);
    vector<Vec3> before = raising.positions();
    expectError("the CG state has left what the model was trained on: bonded beads 0 and 1 are 0.09", [&] { raising.integrator.step(1); });
    assertSame(before, raising.positions());
    ASSERT_EQUAL(1, raising.context->getState(0).getStepCount());
    Run warning(bundle, 1.0);  // the default warns once and goes on
    warning.integrator.step(4);
    ASSERT_EQUAL(4, warning.context->getState(0).getStepCount());
    Run unchecked(bundle, 1.0, 0, NULL, {{"CheckTrainingRange", "off"}});
    unchecked.integrator.step(4);
    // Non-bonded pairs: with only beads 0-1 bonded, beads 1 and 2 (0.30 nm at the start) come within 0.074 nm at the second step.
    unique_ptr<System> system(makeSystem());
    CGMLIntegrator close(withRange("{\"closest_pair_nm\": 0.1}"), 1.0);
    close.setBeadAssignment(beadOf);
    close.setAtomBonds({{1, 2}});
    close.setProperty("CheckTrainingRange", "raise");
    unique_ptr<Context> context = makeContext(*system, close);
    context->setPositions(startPositions());
    expectError("beads 1 and 2 are 0.07", [&] { close.step(3); });
    expectError("closer than the training data's closest non-bonded approach of 0.1 nm", [&] { close.step(1); });
    expectError("needs a positive closest_pair_nm", [&] { CGMLIntegrator(withRange("{\"closest_pair_nm\": -1}"), 1.0); });
    expectError("needs bond_length_nm as [shortest, longest]", [&] {
        CGMLIntegrator(withRange("{\"closest_pair_nm\": 0.1, \"bond_length_nm\": [0.5, 0.1]}"), 1.0);
    });
    expectError("CheckTrainingRange must be \"warn\", \"raise\" or \"off\"", [] {
        CGMLIntegrator(driftBundle(1.0), 1.0).setProperty("CheckTrainingRange", "yes");
    });
}

void testReliability() {
    testTrainingRange();
    testCheckpointContinuesExactly();
    testCheckpointRefused();
    testRandomStreamPerIntegrator();
    testBundleChecks();
    testMasslessAndVirtualSites();
    testThreadsProperty();
    if (platform->getName() != "CUDA")
        testBadPositions();
}
