// The IndependentMolecules property: copies of a molecule in one System, advanced in one call
// with no interaction between them.  Included by TestCGMLIntegrator.cpp (uses its Run and helpers).

/** Two copies of the six-particle molecule, the second moved by `offset`: the copies overlap. */
static System* makeCopies(vector<Vec3>& positions, const Vec3& offset) {
    System* system = new System();
    HarmonicBondForce* bonds = new HarmonicBondForce();
    vector<Vec3> start = startPositions();
    positions.clear();
    for (int copy = 0; copy < 2; copy++)
        for (int i = 0; i < numParticles; i++) {
            system->addParticle(masses[i]);
            positions.push_back(start[i] + offset * copy);
            if (i > 0)
                bonds->addBond(copy * numParticles + i - 1, copy * numParticles + i, 0.15, 1000.0);
        }
    system->addForce(bonds);
    return system;
}

static vector<Vec3> stepCopies(const string& independent, const Vec3& offset, int steps) {
    vector<Vec3> positions;
    unique_ptr<System> system(makeCopies(positions, offset));
    CGMLIntegrator integrator(pairBundle(1.0), 1.0);
    vector<int> beadOfCopies;
    vector<pair<int, int> > bonds;
    for (int copy = 0; copy < 2; copy++)
        for (int i = 0; i < numParticles; i++) {
            beadOfCopies.push_back(beadOf[i] + 3 * copy);
            if (i > 0)
                bonds.push_back(make_pair(copy * numParticles + i - 1, copy * numParticles + i));
        }
    integrator.setBeadAssignment(beadOfCopies);
    integrator.setAtomBonds(bonds);
    integrator.setProperty("IndependentMolecules", independent);
    unique_ptr<Context> context = makeContext(*system, integrator);
    context->setPositions(positions);
    integrator.step(steps);
    return getPositions(*context);
}

void testIndependentMolecules() {
    const Vec3 offset(0.1, 0.05, -0.02);
    const int steps = 4;
    Run alone(pairBundle(1.0), 1.0);
    alone.integrator.step(steps);
    vector<Vec3> lone = alone.positions();
    // Apart, each copy moves as the molecule alone (the second one where it started, offset).
    vector<Vec3> apart = stepCopies("true", offset, steps);
    for (int i = 0; i < numParticles; i++) {
        ASSERT_EQUAL_VEC(lone[i], apart[i], tol);
        ASSERT_EQUAL_VEC(lone[i] + offset, apart[numParticles + i], tol);
    }
    // Together (the default), the overlapping copies pull on each other.
    vector<Vec3> together = stepCopies("false", offset, steps);
    double largest = 0;
    for (int i = 0; i < numParticles; i++)
        largest = std::max(largest, (together[i] - lone[i]).dot(together[i] - lone[i]));
    ASSERT(std::sqrt(largest) > 1e-3);
    CGMLIntegrator integrator(pairBundle(1.0), 1.0);
    expectError("IndependentMolecules must be \"true\" or \"false\"", [&] { integrator.setProperty("IndependentMolecules", "yes"); });
}
