#include "internal/CGMLBeads.h"
#include "CGMLIntegrator.h"
#include "internal/CGMLBundle.h"
#include "openmm/CMMotionRemover.h"
#include "openmm/OpenMMException.h"
#include <algorithm>
#include <set>

using namespace CGMLPlugin;
using OpenMM::OpenMMException;
using std::pair;
using std::string;
using std::to_string;
using std::vector;

static torch::Tensor pairsToIndex(const vector<pair<int, int> >& pairs) {
    torch::Tensor index = torch::empty({2, (long) pairs.size()}, torch::kInt64);
    auto a = index.accessor<int64_t, 2>();
    for (size_t i = 0; i < pairs.size(); i++) {
        a[0][i] = pairs[i].first;
        a[1][i] = pairs[i].second;
    }
    return index;
}

static string listNames(const vector<string>& names) {
    string list;
    for (const string& name : names)
        list += (list.empty() ? "" : ", ") + name;
    return "[" + list + "]";
}

/** The features must have the columns the bundle was trained with, each value inside its vocabulary. */
static void checkFeatures(const vector<vector<int> >& features, const CGMLBundle& bundle, int n) {
    const string expected = "the bundle was trained with atom features " + listNames(bundle.featureNames) +
                            "; openmm_cgml.create_integrator computes them from the Topology (openmm_cgml.features.atom_features)";
    if (features.empty())
        throw OpenMMException("CGMLIntegrator: no atom features were set, but " + expected);
    size_t width = bundle.featureNames.size();
    for (int i = 0; i < n && i < (int) features.size(); i++) {
        if (features[i].size() != width)
            throw OpenMMException("CGMLIntegrator: atom feature row " + to_string(i) + " has " + to_string(features[i].size()) +
                                  " columns, but " + expected);
        for (size_t j = 0; j < width; j++) {
            long long size = bundle.vocabulary[j];
            if (features[i][j] < 0 || (size > 0 && features[i][j] >= size))
                throw OpenMMException("CGMLIntegrator: atom " + to_string(i) + " has " + bundle.featureNames[j] + " = " +
                                      to_string(features[i][j]) + ", outside the 0.." + to_string(size - 1) + " the bundle was trained with");
        }
    }
}

CGMLBeads::CGMLBeads(const OpenMM::System& system, const CGMLIntegrator& integrator) {
    int n = system.getNumParticles();
    beadOfParticle = integrator.getBeadAssignment();
    if (beadOfParticle.empty())
        for (int i = 0; i < n; i++)
            beadOfParticle.push_back(i);
    if ((int) beadOfParticle.size() != n)
        throw OpenMMException("CGMLIntegrator: the bead assignment has " + to_string(beadOfParticle.size()) +
                              " entries but the System has " + to_string(n) + " particles");
    for (int i = 0; i < n; i++)
        if (beadOfParticle[i] < 0 || beadOfParticle[i] >= n)
            throw OpenMMException("CGMLIntegrator: particle " + to_string(i) + " has bead number " + to_string(beadOfParticle[i]) +
                                  "; bead numbers run from 0 to at most " + to_string(n - 1) + " for a System of " + to_string(n) + " particles");
    numBeads = n == 0 ? 0 : *std::max_element(beadOfParticle.begin(), beadOfParticle.end()) + 1;
    vector<int> members(numBeads, 0);
    for (int i = 0; i < n; i++)
        members[beadOfParticle[i]]++;
    for (int b = 0; b < numBeads; b++)
        if (members[b] == 0)
            throw OpenMMException("CGMLIntegrator: bead numbers must be 0.." + to_string(numBeads - 1) +
                                  " without gaps, but no particle is in bead " + to_string(b));
    particleMass.resize(n);
    beadMass.assign(numBeads, 0.0);
    for (int i = 0; i < n; i++) {
        particleMass[i] = system.getParticleMass(i);
        beadMass[beadOfParticle[i]] += particleMass[i];
    }
    for (int b = 0; b < numBeads; b++)
        if (!(beadMass[b] > 0))
            throw OpenMMException("CGMLIntegrator: bead " + to_string(b) + " has zero total mass; its centre is undefined");

    int dof = 0;
    for (int i = 0; i < n; i++)
        if (particleMass[i] > 0)
            dof += 3;
    dof -= system.getNumConstraints();
    for (int f = 0; f < system.getNumForces(); f++)
        if (dynamic_cast<const OpenMM::CMMotionRemover*>(&system.getForce(f)) != NULL)
            dof -= 3;
    kineticScale = (numBeads > 0 && dof > 0) ? dof / (3.0 * numBeads) : 1.0;

    const vector<vector<int> >& features = integrator.getAtomFeatures();
    const CGMLBundle& bundle = integrator.getParsedBundle();
    if (!bundle.featureNames.empty())
        checkFeatures(features, bundle, n);
    if (features.empty())
        atomFeatures = torch::zeros({n, 1}, torch::kInt64);
    else {
        if ((int) features.size() != n)
            throw OpenMMException("CGMLIntegrator: atom features have " + to_string(features.size()) +
                                  " rows but the System has " + to_string(n) + " particles");
        size_t width = features[0].size();
        if (width == 0)
            throw OpenMMException("CGMLIntegrator: atom features have no columns");
        atomFeatures = torch::empty({n, (long) width}, torch::kInt64);
        auto a = atomFeatures.accessor<int64_t, 2>();
        for (int i = 0; i < n; i++) {
            if (features[i].size() != width)
                throw OpenMMException("CGMLIntegrator: atom feature row " + to_string(i) + " has " + to_string(features[i].size()) +
                                      " columns, row 0 has " + to_string(width));
            for (size_t j = 0; j < width; j++)
                a[i][j] = features[i][j];
        }
    }

    std::set<pair<int, int> > crossing;
    for (const pair<int, int>& bond : integrator.getAtomBonds()) {
        if (bond.first < 0 || bond.first >= n || bond.second < 0 || bond.second >= n)
            throw OpenMMException("CGMLIntegrator: bond (" + to_string(bond.first) + ", " + to_string(bond.second) +
                                  ") names a particle outside 0.." + to_string(n - 1));
        int b1 = beadOfParticle[bond.first], b2 = beadOfParticle[bond.second];
        if (b1 != b2)
            crossing.insert(std::make_pair(std::min(b1, b2), std::max(b1, b2)));
    }
    beadBonds.assign(crossing.begin(), crossing.end());
    atomBonds = pairsToIndex(integrator.getAtomBonds());
    beadBondIndex = pairsToIndex(beadBonds);
    beadOfAtom = torch::tensor(vector<int64_t>(beadOfParticle.begin(), beadOfParticle.end()), torch::kInt64);
    atomMasses = torch::tensor(particleMass, torch::kFloat64);
}
