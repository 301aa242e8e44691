#include "ReferenceCGMLKernelFactory.h"
#include "ReferenceCGMLKernels.h"
#include "openmm/OpenMMException.h"
#include "openmm/reference/ReferencePlatform.h"
#include "openmm/internal/windowsExport.h"

using namespace CGMLPlugin;
using namespace OpenMM;

// OpenMM calls both entry points of every plugin library; this one adds kernels, not platforms.
extern "C" OPENMM_EXPORT void registerPlatforms() {
}

extern "C" OPENMM_EXPORT void registerKernelFactories() {
    for (int i = 0; i < Platform::getNumPlatforms(); i++) {
        Platform& platform = Platform::getPlatform(i);
        if (dynamic_cast<ReferencePlatform*>(&platform) != NULL)
            platform.registerKernelFactory(IntegrateCGMLStepKernel::Name(), new ReferenceCGMLKernelFactory());
    }
}

extern "C" OPENMM_EXPORT void registerCGMLReferenceKernelFactories() {
    registerKernelFactories();
}

KernelImpl* ReferenceCGMLKernelFactory::createKernelImpl(std::string name, const Platform& platform, ContextImpl& context) const {
    if (name == IntegrateCGMLStepKernel::Name())
        return new ReferenceIntegrateCGMLStepKernel(name, platform);
    throw OpenMMException((std::string("Tried to create kernel with illegal kernel name '") + name + "'").c_str());
}
