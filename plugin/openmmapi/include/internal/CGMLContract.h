// Generated from openmm_cgml/contract.py by `python -m openmm_cgml.contract --header`; do not edit.
#ifndef OPENMM_CGMLCONTRACT_H_
#define OPENMM_CGMLCONTRACT_H_

namespace CGMLPlugin {
namespace CGMLContract {

constexpr const char* metadataFile = "metadata.json";
constexpr const char* embedMethod = "embed";
constexpr int embedArguments = 4;
constexpr const char* stepMethod = "step";
constexpr int stepArguments = 3;
constexpr const char* historyLengthAttribute = "history_length";
constexpr const char* timestepAttribute = "timestep_ps";
constexpr int numPreserved = 4;
constexpr const char* preserved[numPreserved] = {"embed", "step", "history_length", "timestep_ps"};

} // namespace CGMLContract
} // namespace CGMLPlugin

#endif /*OPENMM_CGMLCONTRACT_H_*/
