#include "CGMLIntegratorProxy.h"
#include "CGMLIntegrator.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/SerializationNode.h"
#include <sstream>

using namespace CGMLPlugin;
using namespace OpenMM;
using std::string;
using std::vector;

static string toHex(const string& bytes) {
    static const char* digits = "0123456789abcdef";
    string hex(2 * bytes.size(), '0');
    for (size_t i = 0; i < bytes.size(); i++) {
        unsigned char c = bytes[i];
        hex[2 * i] = digits[c >> 4];
        hex[2 * i + 1] = digits[c & 15];
    }
    return hex;
}

static string fromHex(const string& hex) {
    if (hex.size() % 2 != 0)
        throw OpenMMException("CGMLIntegrator XML: the bundle's hex text has an odd length");
    auto digit = [&](size_t at) {
        char c = hex[at];
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        throw OpenMMException("CGMLIntegrator XML: the bundle's hex text has a character that is not a hex digit at position " +
                              std::to_string(at));
    };
    string bytes(hex.size() / 2, '\0');
    for (size_t i = 0; i < bytes.size(); i++)
        bytes[i] = (char) (digit(2 * i) << 4 | digit(2 * i + 1));
    return bytes;
}

static string joinInts(const vector<int>& values) {
    std::ostringstream text;
    for (size_t i = 0; i < values.size(); i++)
        text << (i ? " " : "") << values[i];
    return text.str();
}

static vector<int> splitInts(const string& text) {
    std::istringstream stream(text);
    vector<int> values;
    int value;
    while (stream >> value)
        values.push_back(value);
    return values;
}

CGMLIntegratorProxy::CGMLIntegratorProxy() : SerializationProxy("CGMLIntegrator") {
}

void CGMLIntegratorProxy::serialize(const void* object, SerializationNode& node) const {
    node.setIntProperty("version", 2);
    const CGMLIntegrator& integrator = *reinterpret_cast<const CGMLIntegrator*>(object);
    node.setDoubleProperty("stepSize", integrator.getStepSize());
    node.setDoubleProperty("constraintTolerance", integrator.getConstraintTolerance());
    node.setIntProperty("integrationForceGroups", integrator.getIntegrationForceGroups());
    node.setIntProperty("randomSeed", integrator.getRandomNumberSeed());
    node.setStringProperty("beadAssignment", joinInts(integrator.getBeadAssignment()));
    const vector<vector<int> >& features = integrator.getAtomFeatures();
    vector<int> flat;
    for (const vector<int>& row : features)
        flat.insert(flat.end(), row.begin(), row.end());
    node.setIntProperty("featureColumns", features.empty() ? 0 : (int) features[0].size());
    node.setStringProperty("atomFeatures", joinInts(flat));
    vector<int> bonds;
    for (const std::pair<int, int>& bond : integrator.getAtomBonds()) {
        bonds.push_back(bond.first);
        bonds.push_back(bond.second);
    }
    node.setStringProperty("atomBonds", joinInts(bonds));
    node.setStringProperty("bundle", toHex(integrator.getBundle()));
    SerializationNode& properties = node.createChildNode("Properties");
    for (const auto& property : integrator.getProperties())
        properties.setStringProperty(property.first, property.second);
}

void* CGMLIntegratorProxy::deserialize(const SerializationNode& node) const {
    int version = node.getIntProperty("version");
    if (version < 1 || version > 2)
        throw OpenMMException("Unsupported version number");
    CGMLIntegrator* integrator = new CGMLIntegrator(fromHex(node.getStringProperty("bundle")), node.getDoubleProperty("stepSize"));
    try {
        integrator->setConstraintTolerance(node.getDoubleProperty("constraintTolerance"));
        integrator->setIntegrationForceGroups(node.getIntProperty("integrationForceGroups"));
        integrator->setRandomNumberSeed(node.getIntProperty("randomSeed"));
        integrator->setBeadAssignment(splitInts(node.getStringProperty("beadAssignment")));
        int columns = node.getIntProperty("featureColumns");
        vector<int> flat = splitInts(node.getStringProperty("atomFeatures"));
        vector<vector<int> > features;
        for (size_t i = 0; columns > 0 && i < flat.size(); i += columns)
            features.emplace_back(flat.begin() + i, flat.begin() + std::min(flat.size(), i + columns));
        integrator->setAtomFeatures(features);
        vector<int> bondList = splitInts(node.getStringProperty("atomBonds"));
        vector<std::pair<int, int> > bonds;
        for (size_t i = 0; i + 1 < bondList.size(); i += 2)
            bonds.emplace_back(bondList[i], bondList[i + 1]);
        integrator->setAtomBonds(bonds);
        if (version >= 2)  // version 1 had no platform options
            for (const auto& property : node.getChildNode("Properties").getProperties())
                integrator->setProperty(property.first, property.second);
    }
    catch (...) {
        delete integrator;
        throw;
    }
    return integrator;
}
