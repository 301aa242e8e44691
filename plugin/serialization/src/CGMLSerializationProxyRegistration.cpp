#include "CGMLIntegrator.h"
#include "CGMLIntegratorProxy.h"
#include "openmm/serialization/SerializationProxy.h"

using namespace CGMLPlugin;
using namespace OpenMM;

extern "C" OPENMM_EXPORT_CGML void registerCGMLSerializationProxies() {
    SerializationProxy::registerProxy(typeid(CGMLIntegrator), new CGMLIntegratorProxy());
}

// Registered when the library is loaded, as OpenMM's own plugins do.
extern "C" void __attribute__((constructor)) initCGMLSerialization() {
    registerCGMLSerializationProxies();
}
