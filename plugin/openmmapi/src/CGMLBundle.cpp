#include "internal/CGMLBundle.h"
#include "internal/CGMLBeads.h"
#include "internal/CGMLContract.h"
#include "openmm/OpenMMException.h"
#include <torch/csrc/jit/passes/freeze_module.h>
#include <cmath>
#include <fstream>
#include <sstream>

using namespace CGMLPlugin;
using OpenMM::OpenMMException;
using std::string;

const char* CGMLBundle::metadataFile() {
    return CGMLContract::metadataFile;
}

static bool looksLikeArchive(const string& s) {
    return s.size() >= 4 && s.compare(0, 4, "PK\x03\x04", 4) == 0;
}

string CGMLBundle::readBytes(const string& pathOrBytes) {
    if (looksLikeArchive(pathOrBytes))
        return pathOrBytes;
    if (pathOrBytes.empty())
        throw OpenMMException("CGMLIntegrator: no bundle given (empty path)");
    std::ifstream file(pathOrBytes, std::ios::binary);
    if (!file)
        throw OpenMMException("CGMLIntegrator: cannot open bundle file '" + pathOrBytes + "'");
    std::ostringstream bytes;
    bytes << file.rdbuf();
    string contents = bytes.str();
    if (!looksLikeArchive(contents))
        throw OpenMMException("CGMLIntegrator: '" + pathOrBytes + "' is not a TorchScript bundle (not a zip archive)");
    return contents;
}

static void checkMethod(const torch::jit::Module& module, const string& name, size_t numArgs) {
    auto method = module.find_method(name);
    if (!method)
        throw OpenMMException("CGMLIntegrator: the bundle has no method '" + name + "' (export it with @torch.jit.export)");
    size_t found = method->function().getSchema().arguments().size() - 1;
    if (found != numArgs)
        throw OpenMMException("CGMLIntegrator: the bundle's method '" + name + "' takes " + std::to_string(found) +
                              " arguments, the propagator contract needs " + std::to_string(numArgs));
}

CGMLBundle::CGMLBundle(const string& bytes, const torch::Device& device) : device(device) {
    torch::jit::ExtraFilesMap extra{{metadataFile(), ""}};
    try {
        std::istringstream stream(bytes);
        module = torch::jit::load(stream, device, extra);
    }
    catch (std::exception& e) {
        throw OpenMMException(string("CGMLIntegrator: the bundle is not a loadable TorchScript module: ") + e.what());
    }
    metadata = extra[metadataFile()].empty() ? "{}" : extra[metadataFile()];
    checkMethod(module, CGMLContract::embedMethod, CGMLContract::embedArguments);
    checkMethod(module, CGMLContract::stepMethod, CGMLContract::stepArguments);
    const string k = CGMLContract::historyLengthAttribute, dt = CGMLContract::timestepAttribute;
    if (!module.hasattr(k) || !module.attr(k).isInt())
        throw OpenMMException("CGMLIntegrator: the bundle has no int attribute '" + k + "'");
    if (!module.hasattr(dt) || !module.attr(dt).isDouble())
        throw OpenMMException("CGMLIntegrator: the bundle has no float attribute '" + dt + "'");
    historyLength = (int) module.attr(k).toInt();
    timestepPs = module.attr(dt).toDouble();
    if (historyLength < 1)
        throw OpenMMException("CGMLIntegrator: the bundle's history_length is " + std::to_string(historyLength) + ", it must be at least 1");
    if (!(timestepPs > 0))
        throw OpenMMException("CGMLIntegrator: the bundle's timestep_ps must be positive");
    module.eval();
    try {
        // freeze_module rather than freeze(): the contract's methods are embed() and step(), and a
        // bundle need not have a forward() for freeze()'s optimisation passes to work on.
        std::vector<string> preserved(CGMLContract::preserved, CGMLContract::preserved + CGMLContract::numPreserved);
        module = torch::jit::freeze_module(module, preserved);
    }
    catch (std::exception& e) {
        throw OpenMMException(string("CGMLIntegrator: the bundle cannot be frozen for inference: ") + e.what());
    }
}

static torch::Tensor checkOutput(const c10::IValue& value, const string& method, long rows, long columns) {
    if (!value.isTensor())
        throw OpenMMException("CGMLIntegrator: the bundle's " + method + "() did not return a tensor");
    torch::Tensor out = value.toTensor();
    if (!out.is_floating_point())
        throw OpenMMException("CGMLIntegrator: the bundle's " + method + "() returned a tensor of type " +
                              string(c10::toString(out.scalar_type())) + ", expected floating point");
    if (out.dim() != 2 || out.size(0) != rows || (columns > 0 && out.size(1) != columns)) {
        std::ostringstream message;
        message << "CGMLIntegrator: the bundle's " << method << "() returned shape " << out.sizes() << ", expected (" << rows << ", "
                << (columns > 0 ? std::to_string(columns) : string("H")) << ")";
        throw OpenMMException(message.str());
    }
    return out;
}

static void requireFinite(bool finite, const string& method) {
    if (!finite)
        throw OpenMMException("CGMLIntegrator: the bundle's " + method + "() returned NaN or infinite values");
}

torch::Tensor CGMLBundle::embed(const CGMLBeads& beads) const {
    torch::NoGradGuard noGrad;
    c10::IValue out;
    try {
        out = module.get_method(CGMLContract::embedMethod)({beads.atomFeatures.to(device), beads.atomBonds.to(device), beads.beadOfAtom.to(device),
                                          beads.atomMasses.to(device)});
    }
    catch (std::exception& e) {
        throw OpenMMException(string("CGMLIntegrator: the bundle's embed() failed: ") + e.what());
    }
    torch::Tensor embedding = checkOutput(out, CGMLContract::embedMethod, beads.numBeads, 0);
    requireFinite(torch::isfinite(embedding).all().item<bool>(), CGMLContract::embedMethod);
    return embedding;
}

c10::IValue CGMLBundle::callStep(const torch::Tensor& embedding, const torch::Tensor& history, const torch::Tensor& beadBonds) const {
    torch::NoGradGuard noGrad;
    try {
        return module.get_method(CGMLContract::stepMethod)({embedding, history, beadBonds});
    }
    catch (std::exception& e) {
        throw OpenMMException(string("CGMLIntegrator: the bundle's step() failed: ") + e.what());
    }
}

torch::Tensor CGMLBundle::convertStep(const c10::IValue& output, int numBeads) const {
    torch::Tensor next = checkOutput(output, CGMLContract::stepMethod, numBeads, 3);
    if (next.device() != device)
        throw OpenMMException("CGMLIntegrator: the bundle's step() returned a tensor on " + next.device().str() + ", expected " + device.str());
    return next.to(torch::kFloat64).contiguous();
}

void CGMLBundle::requireFiniteStep(const torch::Tensor& next) {
    bool finite = true;
    if (next.is_cpu()) {
        // step() runs every CG step: on the CPU a plain loop, no extra torch ops.
        const double* x = next.data_ptr<double>();
        for (long i = 0; i < next.numel(); i++)
            finite &= std::isfinite(x[i]);
    }
    else
        finite = torch::isfinite(next).all().item<bool>();
    requireFinite(finite, CGMLContract::stepMethod);
}

torch::Tensor CGMLBundle::step(const torch::Tensor& embedding, const torch::Tensor& history, const torch::Tensor& beadBonds, int numBeads) const {
    torch::Tensor next = convertStep(callStep(embedding, history, beadBonds), numBeads);
    requireFiniteStep(next);
    return next;
}
