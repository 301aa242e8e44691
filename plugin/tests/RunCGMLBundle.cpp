/**
 * Runs an exported bundle with libtorch alone, no Python: a chain of beads (two atoms each, carbon
 * and hydrogen, bonded in a line) in an OpenMM Context on the Reference platform, advanced by
 * CGMLIntegrator, which calls the bundle's embed() once and step() every step.  Exits non-zero
 * unless every bead position stays finite.  Used by tests/test_bundle_cpp.py on bundles that the
 * Python side exports.
 *
 * usage: RunCGMLBundle BUNDLE NUM_BEADS NUM_STEPS
 */
#include "CGMLIntegrator.h"
#include "internal/CGMLBundle.h"
#include "openmm/Context.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

using namespace CGMLPlugin;
using namespace OpenMM;
using namespace std;

extern "C" void registerCGMLReferenceKernelFactories();

int main(int argc, char* argv[]) {
    try {
        if (argc != 4)
            throw OpenMMException("usage: RunCGMLBundle BUNDLE NUM_BEADS NUM_STEPS");
        registerCGMLReferenceKernelFactories();
        int numBeads = atoi(argv[2]), numSteps = atoi(argv[3]);
        if (numBeads < 2 || numSteps < 1)
            throw OpenMMException("NUM_BEADS must be at least 2 and NUM_STEPS at least 1");
        string bytes = CGMLBundle::readBytes(argv[1]);
        CGMLIntegrator cg(bytes, CGMLBundle(bytes).timestepPs);
        System system;
        vector<Vec3> positions;
        vector<int> beadOfAtom;
        vector<vector<int> > features;
        vector<pair<int, int> > bonds;
        for (int bead = 0; bead < numBeads; bead++) {
            for (int j = 0; j < 2; j++) {
                int atom = system.addParticle(j == 0 ? 12.011 : 1.008);
                beadOfAtom.push_back(bead);
                features.push_back(j == 0 ? vector<int>{6, bead == 0 || bead == numBeads - 1 ? 2 : 3} : vector<int>{1, 1});
                positions.push_back(Vec3(0.38 * bead, 0.1 * j, 0.05 * (bead % 2)));
                if (atom > 0)
                    bonds.push_back(make_pair(j == 0 ? atom - 2 : atom - 1, atom));
            }
        }
        cg.setBeadAssignment(beadOfAtom);
        cg.setAtomFeatures(features);
        cg.setAtomBonds(bonds);
        cg.setRandomNumberSeed(3);
        Context context(system, cg, Platform::getPlatformByName("Reference"));
        context.setPositions(positions);
        cg.step(numSteps);
        State state = context.getState(State::Positions);
        for (const Vec3& x : state.getPositions())
            for (int k = 0; k < 3; k++)
                if (!isfinite(x[k]))
                    throw OpenMMException("a position is not finite after stepping");
        cout << "ran " << numSteps << " steps of " << cg.getStepSize() << " ps on " << numBeads
             << " beads (k = " << cg.getHistoryLength() << "); time " << state.getTime() << " ps" << endl;
    }
    catch (const exception& e) {
        cout << "exception: " << e.what() << endl;
        return 1;
    }
    return 0;
}
