#ifndef CGML_STANDIN_PROPAGATORS_H_
#define CGML_STANDIN_PROPAGATORS_H_

// Analytic stand-in propagators that follow the propagator contract, scripted with libtorch alone.
// Their trajectories are known in closed form, so the integrator's bookkeeping can be checked exactly.

#include "internal/CGMLBundle.h"
#include <torch/script.h>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace CGMLTest {

/** embed(): the total mass of each bead, as an (n_beads, 1) tensor. */
static const char* embedBeadMass = R"(
def embed(self, atom_features: Tensor, atom_bonds: Tensor, bead_of_atom: Tensor, atom_masses: Tensor) -> Tensor:
    n_beads = int(bead_of_atom.max()) + 1
    return atom_masses.new_zeros([n_beads, 1]).index_add_(0, bead_of_atom, atom_masses.unsqueeze(1))
)";

// Constant vectors are float64 buffers of the module, so that they are exact and follow the bundle
// to the device it is loaded for; step() bodies create no tensor on the host, so that a CUDA graph
// can record them.

/** A stand-in module from a step() body; `source` may use the buffers by name (self.name). */
inline torch::jit::Module makeModule(const std::string& stepSource, int64_t historyLength, double timestep,
                                     const std::vector<std::pair<std::string, torch::Tensor> >& buffers = {}) {
    torch::jit::Module module("Standin");
    module.register_attribute("history_length", c10::IntType::get(), historyLength);
    module.register_attribute("timestep_ps", c10::FloatType::get(), timestep);
    for (const auto& buffer : buffers)
        module.register_buffer(buffer.first, buffer.second);
    module.define(std::string(embedBeadMass) + stepSource);
    return module;
}

/** A module's bytes as a bundle with this metadata text. */
inline std::string saveModule(const torch::jit::Module& module, const std::string& metadata) {
    std::ostringstream bytes;
    module.save(bytes, {{"metadata.json", metadata}});
    return bytes.str();
}

/** The metadata of a stand-in bundle: its kind and the SHA-256 of its weights. */
inline std::string standinMetadata(const torch::jit::Module& module) {
    return "{\"kind\": \"stand-in\", \"weights_sha256\": \"" + CGMLPlugin::CGMLBundle::weightsSha256(module) + "\"}";
}

/** Builds a bundle's bytes from a step() body; `source` may use the buffers by name (self.name). */
inline std::string makeBundle(const std::string& stepSource, int historyLength, double timestep,
                              const std::vector<std::pair<std::string, torch::Tensor> >& buffers = {}) {
    torch::jit::Module module = makeModule(stepSource, historyLength, timestep, buffers);
    return saveModule(module, standinMetadata(module));
}

inline torch::Tensor vector3(double x, double y, double z) {
    return torch::tensor({x, y, z}, torch::kFloat64);
}

/** x(t+dt) = x(t) + v dt, v = (0.3, -0.2, 0.1) nm/ps * bead mass / 10 amu. */
inline std::string driftBundle(double timestep) {
    return makeBundle(R"(
def step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor, generator: Generator) -> Tensor:
    v = self.velocity * bead_embedding / 10.0
    return history[-1] + v * self.timestep_ps
)", 1, timestep, {{"velocity", vector3(0.3, -0.2, 0.1)}});
}

/** x(t+dt) = c + 0.5 (x(t) - c), c the unweighted centroid of the beads. */
inline std::string contractBundle(double timestep) {
    return makeBundle(R"(
def step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor, generator: Generator) -> Tensor:
    x = history[-1]
    c = x.mean(0, keepdim=True)
    return c + 0.5 * (x - c)
)", 1, timestep);
}

/** x(t+dt) = 2 x(t) - x(t-dt) + a, k = 2: x_n = x_0 + a n(n+1)/2 from a fresh history. */
inline std::string verletBundle(double timestep) {
    return makeBundle(R"(
def step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor, generator: Generator) -> Tensor:
    return 2.0 * history[-1] - history[-2] + self.acceleration
)", 2, timestep, {{"acceleration", vector3(0.01, 0.02, -0.03)}});
}

/** x(t+dt) = x(t) + 0.05 N(0, 1): a stochastic propagator. */
inline std::string noiseBundle(double timestep) {
    return makeBundle(R"(
def step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor, generator: Generator) -> Tensor:
    x = history[-1]
    return x + 0.05 * torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
)", 3, timestep);
}

/** x_i(t+dt) = x_i + 0.1 Σ_j (x_j - x_i) exp(-|x_j - x_i|² / 0.1 nm²): every bead pulls every other
 *  within about 1 nm, whatever molecule it is in (a translation-invariant pair interaction). */
inline std::string pairBundle(double timestep) {
    return makeBundle(R"(
def step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor, generator: Generator) -> Tensor:
    x = history[-1]
    d = x.unsqueeze(0) - x.unsqueeze(1)
    w = torch.exp(-(d * d).sum(-1) / 0.1)
    return x + 0.1 * (w.unsqueeze(-1) * d).sum(1)
)", 1, timestep);
}

/** A step() whose output breaks the contract in the way `expression` says. */
inline std::string badOutputBundle(const std::string& expression) {
    return makeBundle("\ndef step(self, bead_embedding: Tensor, history: Tensor, bead_bonds: Tensor, generator: Generator) -> Tensor:\n    x = history[-1]\n    return " +
                      expression + "\n", 1, 1.0);
}

} // namespace CGMLTest

#endif
