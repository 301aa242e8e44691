%module cgmlplugin

%import(module="openmm") "swig/OpenMMSwigHeaders.i"
%include "swig/typemaps.i"
%include <std_string.i>
%include <std_vector.i>
%include <std_pair.i>

%{
#include "CGMLIntegrator.h"
#include "OpenMM.h"
#include "OpenMMAmoeba.h"
#include "OpenMMDrude.h"
#include "openmm/RPMDIntegrator.h"
#include "openmm/RPMDMonteCarloBarostat.h"
%}

%template(vectori) std::vector<int>;
%template(vectorvectori) std::vector<std::vector<int> >;
%template(pairii) std::pair<int, int>;
%template(vectorpairii) std::vector<std::pair<int, int> >;

/* C++ exceptions become Python exceptions carrying the message. */
%exception {
    try {
        $action
    } catch (std::exception &e) {
        PyErr_SetString(PyExc_Exception, const_cast<char*>(e.what()));
        return NULL;
    }
}

/* A bundle is a path (str) or the bytes of a TorchScript archive. */
%typemap(in) const std::string& bundle (std::string temp) {
    if (PyBytes_Check($input)) {
        temp.assign(PyBytes_AS_STRING($input), PyBytes_GET_SIZE($input));
    } else if (PyUnicode_Check($input)) {
        Py_ssize_t size;
        const char* text = PyUnicode_AsUTF8AndSize($input, &size);
        if (text == NULL)
            SWIG_fail;
        temp.assign(text, size);
    } else {
        PyErr_SetString(PyExc_TypeError, "bundle must be a path or the bytes of a TorchScript file");
        SWIG_fail;
    }
    $1 = &temp;
}
%typemap(freearg) const std::string& bundle ""
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING) const std::string& bundle {
    $1 = PyBytes_Check($input) || PyUnicode_Check($input);
}
%typemap(out) const std::string& getBundle {
    $result = PyBytes_FromStringAndSize($1->data(), $1->size());
}
/* The platform options come back as a plain dict. */
%typemap(out) const std::map<std::string, std::string>& getProperties {
    $result = PyDict_New();
    for (const auto& property : *$1) {
        PyObject* value = PyUnicode_FromString(property.second.c_str());
        PyDict_SetItemString($result, property.first.c_str(), value);
        Py_DECREF(value);
    }
}

namespace CGMLPlugin {

class CGMLIntegrator : public OpenMM::Integrator {
public:
    %pythonprepend CGMLIntegrator %{
        import os
        if isinstance(bundle, os.PathLike):
            bundle = os.fspath(bundle)
    %}
    CGMLIntegrator(const std::string& bundle, double stepSize);
    void setStepSize(double size);
    %pythonprepend setBeadAssignment %{
        import operator
        try:
            beadOfParticle = [operator.index(b) for b in beadOfParticle]
        except TypeError:
            raise TypeError("CGMLIntegrator.setBeadAssignment: bead numbers must be integers") from None
    %}
    void setBeadAssignment(const std::vector<int>& beadOfParticle);
    const std::vector<int>& getBeadAssignment() const;
    %pythonprepend setAtomFeatures %{
        import operator
        try:
            features = [[operator.index(x) for x in row] for row in features]
        except TypeError:
            raise TypeError("CGMLIntegrator.setAtomFeatures: atom features must be integers "
                            "(openmm_cgml.features.atom_features computes them from a Topology)") from None
    %}
    void setAtomFeatures(const std::vector<std::vector<int> >& features);
    const std::vector<std::vector<int> >& getAtomFeatures() const;
    %pythonprepend setAtomBonds %{
        import operator
        try:
            bonds = [(operator.index(i), operator.index(j)) for i, j in bonds]
        except TypeError:
            raise TypeError("CGMLIntegrator.setAtomBonds: bonds must be pairs of particle indices (integers)") from None
    %}
    void setAtomBonds(const std::vector<std::pair<int, int> >& bonds);
    const std::vector<std::pair<int, int> >& getAtomBonds() const;
    const std::string& getBundle() const;
    const std::string& getMetadata() const;
    int getHistoryLength() const;
    void setProperty(const std::string& name, const std::string& value);
    const std::map<std::string, std::string>& getProperties() const;
    int getRandomNumberSeed() const;
    void setRandomNumberSeed(int seed);
    void step(int steps);

    %extend {
        /** Cast an Integrator (from XmlSerializer or CompoundIntegrator) to a CGMLIntegrator. */
        static CGMLPlugin::CGMLIntegrator& cast(OpenMM::Integrator& integrator) {
            CGMLPlugin::CGMLIntegrator* cg = dynamic_cast<CGMLPlugin::CGMLIntegrator*>(&integrator);
            if (cg == NULL)
                throw OpenMM::OpenMMException("the Integrator is not a CGMLIntegrator");
            return *cg;
        }
        static bool isinstance(OpenMM::Integrator& integrator) {
            return dynamic_cast<CGMLPlugin::CGMLIntegrator*>(&integrator) != NULL;
        }
    }
};

}
