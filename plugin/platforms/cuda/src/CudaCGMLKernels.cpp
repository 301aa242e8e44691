#include "CudaCGMLKernels.h"
#include "internal/CGMLRandom.h"
#include "openmm/OpenMMException.h"
#include "openmm/common/ContextSelector.h"
#include "openmm/internal/ContextImpl.h"
#include <ATen/Context.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>
#if __has_include(<ATen/cuda/CUDAGraph.h>)
#include <ATen/cuda/CUDAGraph.h>
#define CGML_CUDA_GRAPHS 1
#endif

using namespace CGMLPlugin;
using namespace OpenMM;
using std::string;
using std::vector;

static void check(CUresult result, const char* what) {
    if (result != CUDA_SUCCESS) {
        const char* message = NULL;
        cuGetErrorString(result, &message);
        throw OpenMMException(string("CGMLIntegrator: ") + what + ": " + (message ? message : "unknown CUDA error") + " (" +
                              std::to_string((int) result) + ")");
    }
}

/**
 * Makes torch's CUDA context (the device's primary one) current while it lives: CUDA runtime
 * calls, which torch makes, go to whatever context is current on the thread.
 */
class CudaIntegrateCGMLStepKernel::TorchContext {
public:
    explicit TorchContext(CUcontext context) {
        check(cuCtxPushCurrent(context), "cannot make torch's CUDA context current");
    }
    ~TorchContext() {
        CUcontext popped;
        cuCtxPopCurrent(&popped);
    }
};

/** The bundle's step() recorded in a CUDA graph, and the tensor the graph writes its result to. */
struct CudaIntegrateCGMLStepKernel::StepGraph {
#ifdef CGML_CUDA_GRAPHS
    at::cuda::CUDAGraph graph;
#endif
    torch::Tensor output;
};

namespace {

/** Raises the kernel's flag when OpenMM reorders atoms.  The CudaContext owns it, and may outlive the kernel. */
class AtomsMovedListener : public ComputeContext::ReorderListener {
public:
    explicit AtomsMovedListener(std::shared_ptr<bool> flag) : flag(flag) {
    }
    void execute() {
        *flag = true;
    }
private:
    std::shared_ptr<bool> flag;
};

} // namespace

CudaIntegrateCGMLStepKernel::CudaIntegrateCGMLStepKernel(string name, const Platform& platform, CudaContext& cu) :
        IntegrateCGMLStepKernel(name, platform), cu(cu), device(torch::kCUDA, cu.getDeviceIndex()), atomsMoved(new bool(true)),
        slotsShifted(false), useGraphs(false), warmupSteps(1) {
    check(cuDevicePrimaryCtxRetain(&torchContext, cu.getDevice()), "cannot retain the device's primary context");
}

CudaIntegrateCGMLStepKernel::~CudaIntegrateCGMLStepKernel() {
    try {
        TorchContext scope(torchContext);
        graph.reset();
        slots.reset();
        history.reset();
        bundle.reset();
        embedding = beadBonds = shiftedFrames = torch::Tensor();
        molecules.reset();
    }
    catch (...) {
        // Nothing sensible to do while OpenMM tears the Context down.
    }
    cuDevicePrimaryCtxRelease(cu.getDevice());
}

void CudaIntegrateCGMLStepKernel::initialize(const System& system, const CGMLIntegrator& integrator) {
    beads.reset(new CGMLBeads(system, integrator));
    useGraphs = integrator.getProperties().at("useCUDAGraphs") == "true";
    warmupSteps = std::stoi(integrator.getProperties().at("CUDAGraphWarmupSteps"));
#ifndef CGML_CUDA_GRAPHS
    if (useGraphs)
        throw OpenMMException("CGMLIntegrator: useCUDAGraphs is true, but this build's torch has no CUDA graphs (ATen/cuda/CUDAGraph.h)");
#endif
    cu.addReorderListener(new AtomsMovedListener(atomsMoved));
    TorchContext scope(torchContext);
    random.reset(new CGMLRandom(at::cuda::detail::createCUDAGenerator(device.index()), chooseSeed(integrator.getRandomNumberSeed())));
    bundle.reset(new CGMLBundle(integrator.getBundle(), device));
    embedding = bundle->embed(*beads);
    beadBonds = beads->beadBondIndex.to(device);
    trainingRange.reset(new CGMLGuard(*bundle, *beads, integrator.getProperties().at("CheckTrainingRange")));
    molecules.reset(new CGMLMolecules(*beads, integrator.getProperties().at("IndependentMolecules")));
    history.reset(new CGMLHistory(bundle->historyLength, beads->numBeads, device));
}

void CudaIntegrateCGMLStepKernel::waitForOpenMM() const {
    ContextSelector selector(cu);
    check(cuCtxSynchronize(), "cannot synchronise OpenMM's CUDA context");
}

static torch::Tensor wrapArray(CudaArray& array, torch::ScalarType type, const torch::Device& device) {
    if (array.getElementSize() != 4 * (int) c10::elementSize(type))
        throw OpenMMException("CGMLIntegrator: OpenMM's array " + array.getName() + " does not hold the expected 4-vectors");
    void* data = reinterpret_cast<void*>(array.getDevicePointer());
    // target_device: torch need not ask the driver where a pointer of OpenMM's context lives.
    return at::for_blob(data, {(long) array.getSize(), 4}).options(torch::TensorOptions().dtype(type)).target_device(device)
        .make_tensor();
}

CudaCGMLAtoms CudaIntegrateCGMLStepKernel::atoms() {
    bool doubles = cu.getUseDoublePrecision(), mixed = cu.getUseMixedPrecision();
    torch::ScalarType real = doubles ? torch::kFloat64 : torch::kFloat32;
    torch::ScalarType velocity = (doubles || mixed) ? torch::kFloat64 : torch::kFloat32;
    torch::Tensor correction = mixed ? wrapArray(cu.getPosqCorrection(), torch::kFloat32, device) : torch::Tensor();
    return CudaCGMLAtoms(wrapArray(cu.getPosq(), real, device), correction, wrapArray(cu.getVelm(), velocity, device), cu.getNumAtoms());
}

const CudaCGMLSlots& CudaIntegrateCGMLStepKernel::currentSlots() {
    Vec3 box[3];
    cu.getPeriodicBoxVectors(box[0], box[1], box[2]);
    // A barostat changes the box and clears the shifts without reordering.
    bool boxChanged = slotsShifted && (box[0] != slotBox[0] || box[1] != slotBox[1] || box[2] != slotBox[2]);
    if (slots && !*atomsMoved && !boxChanged)
        return *slots;
    const int numAtoms = cu.getNumAtoms();
    const vector<mm_int4>& offsets = cu.getPosCellOffsets();
    vector<Vec3> shifts;
    for (int s = 0; s < numAtoms && shifts.empty(); s++)
        if (offsets[s].x != 0 || offsets[s].y != 0 || offsets[s].z != 0)
            shifts.resize(numAtoms);
    for (size_t s = 0; s < shifts.size(); s++)
        shifts[s] = box[0] * offsets[s].x + box[1] * offsets[s].y + box[2] * offsets[s].z;
    slots.reset(new CudaCGMLSlots(cu.getAtomIndex(), beads->beadOfParticle, beads->particleMass, beads->beadMass, shifts, device));
    slotsShifted = !shifts.empty();
    for (int i = 0; i < 3; i++)
        slotBox[i] = box[i];
    *atomsMoved = false;
    return *slots;
}

void CudaIntegrateCGMLStepKernel::execute(ContextImpl& context, const CGMLIntegrator& integrator) {
    waitForOpenMM();
    TorchContext scope(torchContext);
    const CudaCGMLSlots& rows = currentSlots();
    CudaCGMLAtoms arrays = atoms();
    torch::Tensor x = arrays.positions();
    torch::Tensor current = rows.centres(x);
    if (!torch::isfinite(current).all().item<bool>())
        throw OpenMMException("CGMLIntegrator: some particle positions are NaN or infinite; no step was taken");
    // Another integrator may have moved the atoms since our last step (CompoundIntegrator).
    const torch::Tensor& frames = history->prepare(current, context.getStepCount());
    torch::Tensor shift;
    if (molecules->active()) {
        shift = molecules->offsets(frames);
        if (!shiftedFrames.defined())
            shiftedFrames = torch::empty_like(frames);
        shiftedFrames.copy_(frames + shift);  // one buffer: a CUDA graph reads its input from a fixed address
    }
    torch::Tensor next = takeStep(shift.defined() ? shiftedFrames : frames, context.getStepCount());
    if (trainingRange->active()) {
        torch::Tensor host = next.to(torch::kCPU);  // the check runs on the host; molecules apart: pairs within them
        trainingRange->apply(host.data_ptr<double>());
    }
    if (shift.defined())
        next = next - shift;
    // Nothing in the Context has been touched before this point, so a failed step leaves it as it was.
    double dt = integrator.getStepSize();
    torch::Tensor displacement = rows.perRow(next - current);
    arrays.setPositions(x + displacement);
    arrays.setVelocities(displacement / dt);
    history->advance(next, context.getStepCount() + 1);
    torch::cuda::synchronize(device.index());  // OpenMM's next kernels read what torch wrote
    context.computeVirtualSites();
    context.setTime(context.getTime() + dt);
    context.setStepCount(context.getStepCount() + 1);
}

torch::Tensor CudaIntegrateCGMLStepKernel::takeStep(const torch::Tensor& frames, long long stepCount) {
    if (!useGraphs)
        return bundle->step(embedding, frames, beadBonds, random->forStep(stepCount), beads->numBeads);
#ifdef CGML_CUDA_GRAPHS
    if (!graph)
        recordStep(frames, stepCount);
    // A replay draws its random numbers from the generator's seed at the time of the replay.
    random->forStep(stepCount);
    graph->graph.replay();
    CGMLBundle::requireFiniteStep(graph->output);
    return graph->output;
#else
    throw OpenMMException("CGMLIntegrator: this build has no CUDA graphs");
#endif
}

void CudaIntegrateCGMLStepKernel::recordStep(const torch::Tensor& frames, long long stepCount) {
#ifdef CGML_CUDA_GRAPHS
    // A graph cannot be recorded on the default stream: record on a side stream, after the work queued so far.
    torch::cuda::synchronize(device.index());
    c10::cuda::CUDAStreamGuard guard(c10::cuda::getStreamFromPool(false, device.index()));
    // The warm-up runs have every check, so a bundle that breaks the contract fails here as it would
    // without graphs; they also let torch's allocator settle before recording.
    for (int i = 0; i < warmupSteps; i++)
        bundle->step(embedding, frames, beadBonds, random->forStep(stepCount), beads->numBeads);
    std::unique_ptr<StepGraph> recorded(new StepGraph());
    at::Generator& generator = random->forStep(stepCount);
    bool capturing = false;
    try {
        // The graph replays with this generator's seed and offset at replay time (not the default generator's).
        recorded->graph.register_generator_state(generator);
        recorded->graph.capture_begin();
        capturing = true;
        recorded->output = bundle->convertStep(bundle->callStep(embedding, frames, beadBonds, generator), beads->numBeads);
        capturing = false;
        recorded->graph.capture_end();
    }
    catch (std::exception& e) {
        if (capturing) {
            try {
                recorded->graph.capture_end();
            }
            catch (...) {
            }
        }
        throw OpenMMException(string("CGMLIntegrator: the bundle's step() could not be recorded in a CUDA graph "
                                     "(set the property useCUDAGraphs to false to run it without one): ") + e.what());
    }
    c10::cuda::getCurrentCUDAStream(device.index()).synchronize();
    graph = std::move(recorded);
#endif
}

double CudaIntegrateCGMLStepKernel::computeKineticEnergy(ContextImpl& context, const CGMLIntegrator& integrator) {
    waitForOpenMM();
    TorchContext scope(torchContext);
    return currentSlots().kineticEnergy(atoms().velocities()) * beads->kineticScale;
}

void CudaIntegrateCGMLStepKernel::resetHistory() {
    history->reset();
    *atomsMoved = true;  // setPositions clears OpenMM's periodic shifts
}

void CudaIntegrateCGMLStepKernel::createCheckpoint(ContextImpl& context, std::ostream& stream) const {
    TorchContext scope(torchContext);
    history->write(stream, random->seed);
}

void CudaIntegrateCGMLStepKernel::loadCheckpoint(ContextImpl& context, std::istream& stream) {
    TorchContext scope(torchContext);
    random->seed = history->read(stream);
    *atomsMoved = true;  // the checkpoint restores OpenMM's atom order and shifts
}
