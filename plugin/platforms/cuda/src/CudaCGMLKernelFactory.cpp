#include "CudaCGMLKernelFactory.h"
#include "CudaCGMLKernels.h"
#include "openmm/OpenMMException.h"
#include "openmm/cuda/CudaPlatform.h"
#include "openmm/internal/ContextImpl.h"
#include "openmm/internal/windowsExport.h"

using namespace CGMLPlugin;
using namespace OpenMM;

// A plugin library's entry points are found by name in each library: this one calls no other
// library's registerKernelFactories(), and no one calls its own by name.
static void registerCudaKernels() {
    for (int i = 0; i < Platform::getNumPlatforms(); i++) {
        Platform& platform = Platform::getPlatform(i);
        if (dynamic_cast<CudaPlatform*>(&platform) != NULL)
            platform.registerKernelFactory(IntegrateCGMLStepKernel::Name(), new CudaCGMLKernelFactory());
    }
}

// OpenMM calls both entry points of every plugin library; this one adds kernels, not platforms.
extern "C" OPENMM_EXPORT void registerPlatforms() {
}

extern "C" OPENMM_EXPORT void registerKernelFactories() {
    registerCudaKernels();
}

extern "C" OPENMM_EXPORT void registerCGMLCudaKernelFactories() {
    registerCudaKernels();
}

KernelImpl* CudaCGMLKernelFactory::createKernelImpl(std::string name, const Platform& platform, ContextImpl& context) const {
    CudaPlatform::PlatformData& data = *static_cast<CudaPlatform::PlatformData*>(context.getPlatformData());
    // Integrators run on the first device; OpenMM copies positions to the others.
    CudaContext& cu = *data.contexts[0];
    if (name == IntegrateCGMLStepKernel::Name())
        return new CudaIntegrateCGMLStepKernel(name, platform, cu);
    throw OpenMMException((std::string("Tried to create kernel with illegal kernel name '") + name + "'").c_str());
}
