// Generated from openmm_cgml/contract.py by `python -m openmm_cgml.contract --header`; do not edit.
#ifndef OPENMM_CGMLCONTRACT_H_
#define OPENMM_CGMLCONTRACT_H_

namespace CGMLPlugin {
namespace CGMLContract {

constexpr const char* metadataFile = "metadata.json";
constexpr const char* embedMethod = "embed";
constexpr int embedArguments = 4;
constexpr const char* stepMethod = "step";
constexpr int stepArguments = 4;
constexpr const char* historyLengthAttribute = "history_length";
constexpr int maxHistoryLength = 4096;
constexpr const char* timestepAttribute = "timestep_ps";
constexpr const char* weightsKey = "weights_sha256";
constexpr const char* unverified = "unverified";
constexpr const char* featuresKey = "atom_features";
constexpr const char* vocabularyKey = "vocabulary";
constexpr const char* trainingRangeKey = "training_range";
constexpr int numPreserved = 4;
constexpr const char* preserved[numPreserved] = {"embed", "step", "history_length", "timestep_ps"};

} // namespace CGMLContract
} // namespace CGMLPlugin

#endif /*OPENMM_CGMLCONTRACT_H_*/
