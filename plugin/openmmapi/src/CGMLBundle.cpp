#include "internal/CGMLBundle.h"
#include "internal/CGMLBeads.h"
#include "internal/CGMLContract.h"
#include "internal/CGMLJson.h"
#include "internal/CGMLSha256.h"
#include "openmm/OpenMMException.h"
#include <torch/csrc/jit/passes/freeze_module.h>
#include <cmath>
#include <fstream>
#include <algorithm>
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
                              " arguments, the propagator contract needs " + std::to_string(numArgs) +
                              (name == CGMLContract::stepMethod ? " (the last one the random generator; bundles written before it took one "
                                                                  "are re-exported with: cgml export OLD.pt --out NEW.pt)" : ""));
}

/** The name Python gives a dtype (str(torch.float32) == "torch.float32"), as weights_sha256 writes it. */
static string pythonDtype(c10::ScalarType type) {
    switch (type) {
        case c10::ScalarType::Float: return "torch.float32";
        case c10::ScalarType::Double: return "torch.float64";
        case c10::ScalarType::Half: return "torch.float16";
        case c10::ScalarType::BFloat16: return "torch.bfloat16";
        case c10::ScalarType::Long: return "torch.int64";
        case c10::ScalarType::Int: return "torch.int32";
        case c10::ScalarType::Short: return "torch.int16";
        case c10::ScalarType::Char: return "torch.int8";
        case c10::ScalarType::Byte: return "torch.uint8";
        case c10::ScalarType::Bool: return "torch.bool";
        case c10::ScalarType::ComplexFloat: return "torch.complex64";
        case c10::ScalarType::ComplexDouble: return "torch.complex128";
        default: throw OpenMMException(string("CGMLIntegrator: the bundle has weights of an unsupported dtype ") + c10::toString(type));
    }
}

string CGMLBundle::weightsSha256(const torch::jit::Module& module) {
    std::vector<std::pair<string, torch::Tensor> > weights;
    for (const auto& p : module.named_parameters(true))
        weights.emplace_back(p.name, p.value);
    for (const auto& b : module.named_buffers(true))
        weights.emplace_back(b.name, b.value);
    std::sort(weights.begin(), weights.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    CGMLSha256 digest;
    for (const auto& weight : weights) {
        torch::Tensor t = weight.second.detach().to(torch::kCPU).contiguous();
        std::ostringstream shape;
        shape << "(";
        for (int64_t d = 0; d < t.dim(); d++)
            shape << (d ? ", " : "") << t.size(d);
        shape << (t.dim() == 1 ? ",)" : ")");
        digest.update(weight.first + ":" + pythonDtype(t.scalar_type()) + ":" + shape.str() + "\n");
        digest.update(t.data_ptr(), t.numel() * t.element_size());
    }
    return digest.hexDigest();
}

/** The training range (metadata training_range): a positive closest pair and an ordered pair of bond lengths, nm. */
static void readTrainingRange(CGMLBundle& bundle, const CGMLJson* range) {
    if (range == nullptr || range->kind == CGMLJson::Null)
        return;
    const string what = string("CGMLIntegrator: the bundle's metadata '") + CGMLContract::trainingRangeKey + "' ";
    const CGMLJson* closest = range->find("closest_pair_nm");
    const CGMLJson* bonds = range->find("bond_length_nm");
    if (closest == nullptr || closest->kind != CGMLJson::Number || !(closest->number > 0))
        throw OpenMMException(what + "needs a positive closest_pair_nm");
    bundle.closestPairNm = closest->number;
    if (bonds != nullptr) {
        if (bonds->kind != CGMLJson::Array || bonds->items.size() != 2 || bonds->items[0].kind != CGMLJson::Number ||
            bonds->items[1].kind != CGMLJson::Number || !(0 <= bonds->items[0].number && bonds->items[0].number <= bonds->items[1].number))
            throw OpenMMException(what + "needs bond_length_nm as [shortest, longest]");
        bundle.bondMinNm = bonds->items[0].number;
        bundle.bondMaxNm = bonds->items[1].number;
    }
}

/** Checks the weights against the digest metadata.json records, and reads the atom features the bundle was trained with. */
static void readMetadata(CGMLBundle& bundle) {
    CGMLJson metadata = CGMLJson::parse(bundle.metadata, string("CGMLIntegrator: the bundle's ") + CGMLContract::metadataFile);
    if (metadata.kind != CGMLJson::Object)
        throw OpenMMException(string("CGMLIntegrator: the bundle's ") + CGMLContract::metadataFile + " is not a JSON object");
    const string key = CGMLContract::weightsKey;
    const CGMLJson* recorded = metadata.find(key);
    if (recorded == nullptr || recorded->kind != CGMLJson::String)
        throw OpenMMException("CGMLIntegrator: the bundle's " + string(CGMLContract::metadataFile) + " records no '" + key +
                              "', so its weights cannot be verified; write bundles with openmm_cgml.bundle.save_bundle, which records it, "
                              "or record \"" + key + "\": \"" + CGMLContract::unverified + "\" to load it unverified");
    if (recorded->text != CGMLContract::unverified) {
        string actual = CGMLBundle::weightsSha256(bundle.module);
        if (actual != recorded->text)
            throw OpenMMException("CGMLIntegrator: the bundle's weights do not match the SHA-256 its metadata records (" + recorded->text +
                                  ", found " + actual + "): the file is corrupt or was altered");
    }
    readTrainingRange(bundle, metadata.find(CGMLContract::trainingRangeKey));
    const CGMLJson* features = metadata.find(CGMLContract::featuresKey);
    if (features == nullptr)
        return;
    const CGMLJson* vocabulary = metadata.find(CGMLContract::vocabularyKey);
    if (features->kind != CGMLJson::Array)
        throw OpenMMException(string("CGMLIntegrator: the bundle's metadata '") + CGMLContract::featuresKey + "' is not a list of names");
    for (const CGMLJson& name : features->items) {
        if (name.kind != CGMLJson::String)
            throw OpenMMException(string("CGMLIntegrator: the bundle's metadata '") + CGMLContract::featuresKey + "' is not a list of names");
        bundle.featureNames.push_back(name.text);
        const CGMLJson* size = vocabulary == nullptr ? nullptr : vocabulary->find(name.text);
        if (size != nullptr && (size->kind != CGMLJson::Number || !(size->number >= 1) || size->number != std::floor(size->number)))
            throw OpenMMException(string("CGMLIntegrator: the bundle's metadata '") + CGMLContract::vocabularyKey + "' gives feature '" +
                                  name.text + "' no positive whole number of values");
        bundle.vocabulary.push_back(size == nullptr ? -1 : (long long) size->number);
    }
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
    const auto& stepArguments = module.find_method(CGMLContract::stepMethod)->function().getSchema().arguments();
    c10::TypePtr last = stepArguments.back().type();
    if (last->kind() == c10::TypeKind::OptionalType)
        last = last->castRaw<c10::OptionalType>()->getElementType();
    if (last->kind() != c10::TypeKind::GeneratorType)
        throw OpenMMException(string("CGMLIntegrator: the last argument of the bundle's step() must be the random generator "
                                     "(generator: torch.Generator), from which step() draws its random numbers"));
    const string k = CGMLContract::historyLengthAttribute, dt = CGMLContract::timestepAttribute;
    if (!module.hasattr(k) || !module.attr(k).isInt())
        throw OpenMMException("CGMLIntegrator: the bundle has no int attribute '" + k + "'");
    if (!module.hasattr(dt) || !module.attr(dt).isDouble())
        throw OpenMMException("CGMLIntegrator: the bundle has no float attribute '" + dt + "'");
    int64_t length = module.attr(k).toInt();
    if (length < 1 || length > CGMLContract::maxHistoryLength)
        throw OpenMMException("CGMLIntegrator: the bundle's " + k + " is " + std::to_string(length) + ", it must be 1.." +
                              std::to_string(CGMLContract::maxHistoryLength));
    historyLength = (int) length;
    timestepPs = module.attr(dt).toDouble();
    if (!(timestepPs > 0) || !std::isfinite(timestepPs))
        throw OpenMMException("CGMLIntegrator: the bundle's " + dt + " is " + std::to_string(timestepPs) + ", it must be finite and positive");
    readMetadata(*this);
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

c10::IValue CGMLBundle::callStep(const torch::Tensor& embedding, const torch::Tensor& history, const torch::Tensor& beadBonds,
                                 const at::Generator& generator) const {
    torch::NoGradGuard noGrad;
    try {
        return module.get_method(CGMLContract::stepMethod)({embedding, history, beadBonds, generator});
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

torch::Tensor CGMLBundle::step(const torch::Tensor& embedding, const torch::Tensor& history, const torch::Tensor& beadBonds,
                               const at::Generator& generator, int numBeads) const {
    torch::Tensor next = convertStep(callStep(embedding, history, beadBonds, generator), numBeads);
    requireFiniteStep(next);
    return next;
}
