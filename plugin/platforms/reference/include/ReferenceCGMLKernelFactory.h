#ifndef OPENMM_REFERENCECGMLKERNELFACTORY_H_
#define OPENMM_REFERENCECGMLKERNELFACTORY_H_

#include "openmm/KernelFactory.h"

namespace CGMLPlugin {

/**
 * Creates the CGML kernels for the Reference platform and for every platform derived from it
 * (the CPU platform keeps its state in the Reference platform's data).
 */
class ReferenceCGMLKernelFactory : public OpenMM::KernelFactory {
public:
    OpenMM::KernelImpl* createKernelImpl(std::string name, const OpenMM::Platform& platform, OpenMM::ContextImpl& context) const;
};

} // namespace CGMLPlugin

#endif /*OPENMM_REFERENCECGMLKERNELFACTORY_H_*/
