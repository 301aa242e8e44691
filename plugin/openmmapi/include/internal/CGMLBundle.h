#ifndef OPENMM_CGMLBUNDLE_H_
#define OPENMM_CGMLBUNDLE_H_

#include "internal/windowsExportCGML.h"
#include <torch/script.h>
#include <string>
#include <vector>

namespace CGMLPlugin {

class CGMLBeads;

/**
 * A TorchScript propagator bundle, loaded and checked against the propagator contract:
 * methods embed() and step() (whose last argument is the integrator's random generator), an int
 * attribute history_length in 1..CGMLContract::maxHistoryLength and a finite float attribute timestep_ps > 0.
 * Its metadata.json must be valid JSON and record the SHA-256 of the weights, which is checked
 * (or "unverified", an explicit opt-out); the atom features it was trained with are read from it.
 * The module is put in eval mode and frozen once, on the device it was loaded for (a frozen
 * module's constants cannot be moved, so a kernel on another device loads its own).
 * Loading is the only place where a bundle is parsed; kernels share the result.
 */
class OPENMM_EXPORT_CGML CGMLBundle {
public:
    /** The name of the JSON metadata file stored in the archive (torch.jit.save _extra_files). */
    static const char* metadataFile();
    /**
     * Parse a bundle from the bytes of a TorchScript archive, with its tensors on a device.
     * Throws OpenMMException naming the problem if the bytes are not TorchScript or the module
     * does not follow the contract.
     */
    explicit CGMLBundle(const std::string& bytes, const torch::Device& device = torch::kCPU);
    /**
     * Read a bundle's bytes: the argument is either a file path or already the bytes of an
     * archive (recognised by the zip signature TorchScript archives start with).
     */
    static std::string readBytes(const std::string& pathOrBytes);
    /**
     * Run embed() on the bundle's device and check its output: a finite floating-point tensor
     * of shape (numBeads, H).
     */
    torch::Tensor embed(const CGMLBeads& beads) const;
    /**
     * Run step() with the integrator's generator and check its output: finite, floating point, of
     * shape (numBeads, 3).  The result is a contiguous float64 tensor on the history's device.
     */
    torch::Tensor step(const torch::Tensor& embedding, const torch::Tensor& history, const torch::Tensor& beadBonds,
                       const at::Generator& generator, int numBeads) const;
    /**
     * The parts of step(), for callers that record them in a CUDA graph: call step() (no
     * checks), convert its output to a contiguous float64 tensor after checking its type and
     * shape (host-side checks only), and check that the result is finite.
     */
    c10::IValue callStep(const torch::Tensor& embedding, const torch::Tensor& history, const torch::Tensor& beadBonds,
                         const at::Generator& generator) const;
    torch::Tensor convertStep(const c10::IValue& output, int numBeads) const;
    static void requireFiniteStep(const torch::Tensor& next);
    /**
     * The SHA-256 of a module's weights as openmm_cgml.bundle.weights_sha256 computes it: over the
     * parameters and buffers in sorted name order, each as "name:dtype:shape\n" and its raw bytes.
     */
    static std::string weightsSha256(const torch::jit::Module& module);
    torch::jit::Module module;
    torch::Device device;
    int historyLength;
    double timestepPs;
    std::string metadata;
    /** The atom feature columns the bundle was trained with (metadata atom_features; empty if unrecorded). */
    std::vector<std::string> featureNames;
    /** How many values each feature column takes (metadata vocabulary; -1 where unrecorded). */
    std::vector<long long> vocabulary;
    /** The training data's closest non-bonded bead pair and bead bond lengths, nm (metadata training_range; 0 where unrecorded). */
    double closestPairNm = 0, bondMinNm = 0, bondMaxNm = 0;
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLBUNDLE_H_*/
