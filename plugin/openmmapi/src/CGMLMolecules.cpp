#include "internal/CGMLMolecules.h"
#include "internal/CGMLBeads.h"
#include <limits>
#include <numeric>

using namespace CGMLPlugin;

static int findRoot(std::vector<int>& parent, int i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

CGMLMolecules::CGMLMolecules(const CGMLBeads& beads, const std::string& independent) : numMolecules(0),
        enabled(independent == "true") {
    std::vector<int> parent(beads.numBeads);
    std::iota(parent.begin(), parent.end(), 0);
    for (const auto& bond : beads.beadBonds) {
        int a = findRoot(parent, bond.first), b = findRoot(parent, bond.second);
        if (a != b)
            parent[std::max(a, b)] = std::min(a, b);  // the root is the component's first bead
    }
    std::vector<int> numberOfRoot(beads.numBeads, -1);
    moleculeOfBead.resize(beads.numBeads);
    for (int b = 0; b < beads.numBeads; b++) {
        int root = findRoot(parent, b);
        if (numberOfRoot[root] < 0)
            numberOfRoot[root] = numMolecules++;
        moleculeOfBead[b] = numberOfRoot[root];
    }
}

torch::Tensor CGMLMolecules::offsets(const torch::Tensor& frames) const {
    torch::TensorOptions options = frames.options().dtype(torch::kFloat64);
    if (!index.defined() || index.device() != frames.device())
        index = torch::tensor(std::vector<int64_t>(moleculeOfBead.begin(), moleculeOfBead.end()), torch::kInt64).to(frames.device());
    const double inf = std::numeric_limits<double>::infinity();
    torch::Tensor x = frames.select(2, 0).to(torch::kFloat64);  // (k, n)
    torch::Tensor low = torch::full({numMolecules}, inf, options).scatter_reduce(0, index, std::get<0>(x.min(0)), "amin");
    torch::Tensor high = torch::full({numMolecules}, -inf, options).scatter_reduce(0, index, std::get<0>(x.max(0)), "amax");
    torch::Tensor spacing = (high - low).max() + marginNm;
    torch::Tensor start = torch::arange(numMolecules, options) * spacing - low;
    torch::Tensor shift = torch::zeros({(long) moleculeOfBead.size(), 3}, options);
    shift.select(1, 0).copy_(start.index_select(0, index));
    return shift;
}
