#ifndef OPENMM_CUDACGMLKERNELFACTORY_H_
#define OPENMM_CUDACGMLKERNELFACTORY_H_

#include "openmm/KernelFactory.h"

namespace CGMLPlugin {

/**
 * Creates the CGML kernels for the CUDA platform.
 */
class CudaCGMLKernelFactory : public OpenMM::KernelFactory {
public:
    OpenMM::KernelImpl* createKernelImpl(std::string name, const OpenMM::Platform& platform, OpenMM::ContextImpl& context) const;
};

} // namespace CGMLPlugin

#endif /*OPENMM_CUDACGMLKERNELFACTORY_H_*/
