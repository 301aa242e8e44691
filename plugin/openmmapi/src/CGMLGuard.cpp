#include "internal/CGMLGuard.h"
#include "internal/CGMLBeads.h"
#include "internal/CGMLBundle.h"
#include "openmm/OpenMMException.h"
#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

using namespace CGMLPlugin;
using std::string;

CGMLGuard::CGMLGuard(const CGMLBundle& bundle, const CGMLBeads& beads, const string& mode) :
        raise(mode == "raise"), warned(false), numBeads(beads.numBeads), closest(bundle.closestPairNm),
        bondMin(bundle.bondMinNm), bondMax(bundle.bondMaxNm), bonds(beads.beadBonds) {
    enabled = mode != "off" && (closest > 0 || bondMax > 0);
    std::sort(bonds.begin(), bonds.end());
}

bool CGMLGuard::bonded(int i, int j) const {
    return std::binary_search(bonds.begin(), bonds.end(), std::make_pair(std::min(i, j), std::max(i, j)));
}

static double distance(const double* x, int i, int j) {
    double dx = x[3 * i] - x[3 * j], dy = x[3 * i + 1] - x[3 * j + 1], dz = x[3 * i + 2] - x[3 * j + 2];
    return std::sqrt(dx * dx + dy * dy + dz * dz);
}

string CGMLGuard::check(const double* x) const {
    std::ostringstream problem;
    if (bondMax > 0)
        for (const auto& bond : bonds) {
            double r = distance(x, bond.first, bond.second);
            if (r < bondMin || r > bondMax) {
                problem << "bonded beads " << bond.first << " and " << bond.second << " are " << r << " nm apart, outside the "
                        << bondMin << ".." << bondMax << " nm of the training data";
                return problem.str();
            }
        }
    if (closest > 0) {
        // Sweep along x: only beads whose x differ by less than the closest approach can be closer.
        std::vector<int>& order = sorted;
        order.resize(numBeads);
        for (int i = 0; i < numBeads; i++)
            order[i] = i;
        std::sort(order.begin(), order.end(), [x](int a, int b) { return x[3 * a] < x[3 * b]; });
        int worstI = -1, worstJ = -1;
        double worst = closest;
        for (int a = 0; a < numBeads; a++) {
            int i = order[a];
            for (int b = a + 1; b < numBeads && x[3 * order[b]] - x[3 * i] < worst; b++) {
                int j = order[b];
                double r = distance(x, i, j);
                if (r < worst && !bonded(i, j)) {
                    worst = r;
                    worstI = std::min(i, j);
                    worstJ = std::max(i, j);
                }
            }
        }
        if (worstI >= 0) {
            problem << "beads " << worstI << " and " << worstJ << " are " << worst << " nm apart, closer than the training data's "
                    << "closest non-bonded approach of " << closest << " nm";
            return problem.str();
        }
    }
    return "";
}

void CGMLGuard::apply(const double* x) {
    if (!enabled || (warned && !raise))
        return;
    string problem = check(x);
    if (problem.empty())
        return;
    string message = "CGMLIntegrator: the CG state has left what the model was trained on: " + problem;
    if (raise)
        throw OpenMM::OpenMMException(message + " (CheckTrainingRange=raise; no step was taken)");
    std::cerr << "Warning: " << message << ". The model's steps may be unreliable from here (reported once; set the "
              << "integrator's property CheckTrainingRange to \"raise\" to stop, or \"off\")" << std::endl;
    warned = true;
}
