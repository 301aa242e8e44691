#ifndef OPENMM_CGMLINTEGRATOR_PROXY_H_
#define OPENMM_CGMLINTEGRATOR_PROXY_H_

#include "internal/windowsExportCGML.h"
#include "openmm/serialization/SerializationProxy.h"

namespace CGMLPlugin {

/**
 * Serializes a CGMLIntegrator, with the bundle's bytes embedded (hex-encoded) in the XML.
 */
class OPENMM_EXPORT_CGML CGMLIntegratorProxy : public OpenMM::SerializationProxy {
public:
    CGMLIntegratorProxy();
    void serialize(const void* object, OpenMM::SerializationNode& node) const;
    void* deserialize(const OpenMM::SerializationNode& node) const;
};

} // namespace CGMLPlugin

#endif /*OPENMM_CGMLINTEGRATOR_PROXY_H_*/
