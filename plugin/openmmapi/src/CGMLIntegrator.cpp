#include "CGMLIntegrator.h"
#include "CGMLKernels.h"
#include "internal/CGMLBundle.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"
#include <cmath>
#include <sstream>

using namespace CGMLPlugin;
using namespace OpenMM;
using std::string;
using std::vector;

CGMLIntegrator::CGMLIntegrator(const string& bundle, double stepSize) : randomNumberSeed(0), restored(false) {
    properties = {{"useCUDAGraphs", "false"}, {"CUDAGraphWarmupSteps", "1"}, {"Threads", "1"}, {"CheckTrainingRange", "warn"},
                  {"IndependentMolecules", "false"}};
    bundleBytes = CGMLBundle::readBytes(bundle);
    parsed = std::make_unique<CGMLBundle>(bundleBytes);
    setStepSize(stepSize);
    setConstraintTolerance(1e-5);
}

CGMLIntegrator::~CGMLIntegrator() = default;  // here, where CGMLBundle is complete

void CGMLIntegrator::setStepSize(double size) {
    if (!(size > 0))
        throw OpenMMException("CGMLIntegrator: the step size must be positive, got " + std::to_string(size) + " ps");
    double trained = parsed->timestepPs;
    if (std::fabs(size - trained) > 1e-6 * trained) {
        std::ostringstream message;
        message << "CGMLIntegrator: step size " << size << " ps does not match the bundle's CG step " << trained << " ps";
        throw OpenMMException(message.str());
    }
    Integrator::setStepSize(size);
}

const string& CGMLIntegrator::getBundle() const {
    return bundleBytes;
}

int CGMLIntegrator::getHistoryLength() const {
    return parsed->historyLength;
}

const string& CGMLIntegrator::getMetadata() const {
    return parsed->metadata;
}

const CGMLBundle& CGMLIntegrator::getParsedBundle() const {
    return *parsed;
}

void CGMLIntegrator::requireUnbound(const char* what) const {
    if (context != NULL)
        throw OpenMMException(string("CGMLIntegrator: ") + what + " cannot change once a Context uses the integrator");
}

void CGMLIntegrator::setBeadAssignment(const vector<int>& beadOfParticle) {
    requireUnbound("the bead assignment");
    this->beadOfParticle = beadOfParticle;
}

const vector<int>& CGMLIntegrator::getBeadAssignment() const {
    return beadOfParticle;
}

void CGMLIntegrator::setAtomFeatures(const vector<vector<int> >& features) {
    requireUnbound("the atom features");
    atomFeatures = features;
}

const vector<vector<int> >& CGMLIntegrator::getAtomFeatures() const {
    return atomFeatures;
}

void CGMLIntegrator::setAtomBonds(const vector<std::pair<int, int> >& bonds) {
    requireUnbound("the atom bonds");
    atomBonds = bonds;
}

const vector<std::pair<int, int> >& CGMLIntegrator::getAtomBonds() const {
    return atomBonds;
}

void CGMLIntegrator::setProperty(const string& name, const string& value) {
    requireUnbound("the properties");
    if (properties.find(name) == properties.end()) {
        string known;
        for (const auto& property : properties)
            known += (known.empty() ? "" : ", ") + property.first;
        throw OpenMMException("CGMLIntegrator: unknown property '" + name + "' (known: " + known + ")");
    }
    if ((name == "useCUDAGraphs" || name == "IndependentMolecules") && value != "true" && value != "false")
        throw OpenMMException("CGMLIntegrator: " + name + " must be \"true\" or \"false\", got \"" + value + "\"");
    if (name == "CheckTrainingRange" && value != "warn" && value != "raise" && value != "off")
        throw OpenMMException("CGMLIntegrator: CheckTrainingRange must be \"warn\", \"raise\" or \"off\", got \"" + value + "\"");
    if (name == "CUDAGraphWarmupSteps" || name == "Threads") {
        size_t end = 0;
        int count = -1;
        try {
            count = std::stoi(value, &end);
        }
        catch (std::exception&) {
        }
        int least = name == "Threads" ? 0 : 1;
        if (end != value.size() || value.empty() || count < least)
            throw OpenMMException("CGMLIntegrator: " + name + " must be an integer >= " + std::to_string(least) + ", got \"" + value + "\"");
    }
    properties[name] = value;
}

const std::map<string, string>& CGMLIntegrator::getProperties() const {
    return properties;
}

void CGMLIntegrator::initialize(ContextImpl& contextRef) {
    if (owner != NULL && &contextRef.getOwner() != owner)
        throw OpenMMException("This Integrator is already bound to a context");
    context = &contextRef;
    owner = &contextRef.getOwner();
    kernel = context->getPlatform().createKernel(IntegrateCGMLStepKernel::Name(), contextRef);
    kernel.getAs<IntegrateCGMLStepKernel>().initialize(contextRef.getSystem(), *this);
}

void CGMLIntegrator::cleanup() {
    kernel = Kernel();
}

vector<string> CGMLIntegrator::getKernelNames() {
    return {IntegrateCGMLStepKernel::Name()};
}

void CGMLIntegrator::stateChanged(State::DataType changed) {
    if (changed != State::Positions || context == NULL)
        return;
    if (restored) {
        // OpenMM reports the positions a checkpoint restored as changed: the history restored with them stays.
        restored = false;
        return;
    }
    kernel.getAs<IntegrateCGMLStepKernel>().resetHistory();
}

double CGMLIntegrator::computeKineticEnergy() {
    return kernel.getAs<IntegrateCGMLStepKernel>().computeKineticEnergy(*context, *this);
}

void CGMLIntegrator::step(int steps) {
    if (context == NULL)
        throw OpenMMException("This Integrator is not bound to a context!");
    restored = false;
    for (int i = 0; i < steps; i++) {
        context->updateContextState();
        kernel.getAs<IntegrateCGMLStepKernel>().execute(*context, *this);
    }
}

void CGMLIntegrator::createCheckpoint(std::ostream& stream) const {
    kernel.getAs<IntegrateCGMLStepKernel>().createCheckpoint(*context, stream);
}

void CGMLIntegrator::loadCheckpoint(std::istream& stream) {
    kernel.getAs<IntegrateCGMLStepKernel>().loadCheckpoint(*context, stream);
    restored = true;
}
