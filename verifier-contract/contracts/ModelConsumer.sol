// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

/// @title The zkonnx compact verifier's interface.
/// @notice One `CompactVerifier` contract serves every circuit; a circuit is named by the
/// address of its verifying-key data contract (written by `zkonnx evm-verifier` as
/// VerifierKey.bin). Instances are the quantized model input, then the output, as field
/// elements. It returns false (never reverts) when the proof does not verify.
interface ICompactVerifier {
    function verifyProof(address vk, uint256[] calldata instances, bytes calldata proof) external view returns (bool);
}

/// @title An example consumer: records the class a classifier predicted, once its proof verifies.
/// @notice The contract pins the verifier and the verifying key (hence the model and its
/// weights, which the verifying key fixes) and the instance layout. A call whose instances do
/// not have that layout, or whose proof does not verify, reverts.
contract ModelConsumer {
    /// The compact verifier.
    ICompactVerifier public immutable verifier;
    /// The pinned model's verifying-key data contract (its circuit identity).
    address public immutable verifyingKey;
    /// Number of public input values (first instances).
    uint256 public immutable numInputs;
    /// Number of public output values (instances after the inputs).
    uint256 public immutable numOutputs;

    /// Number of accepted proofs.
    uint256 public accepted;
    /// The class of the last accepted proof (argmax of the proven outputs).
    uint256 public lastPrediction;

    /// Emitted for every accepted proof.
    event Predicted(address indexed sender, uint256 prediction, bytes32 inputHash);

    error WrongInstanceCount(uint256 expected, uint256 got);
    error ProofRejected();

    constructor(address verifier_, address verifyingKey_, uint256 numInputs_, uint256 numOutputs_) {
        verifier = ICompactVerifier(verifier_);
        verifyingKey = verifyingKey_;
        numInputs = numInputs_;
        numOutputs = numOutputs_;
    }

    /// Verifies `proof` for `instances` and records the predicted class.
    function submit(bytes calldata proof, uint256[] calldata instances) external returns (uint256 prediction) {
        if (instances.length != numInputs + numOutputs) {
            revert WrongInstanceCount(numInputs + numOutputs, instances.length);
        }
        if (!verifier.verifyProof(verifyingKey, instances, proof)) {
            revert ProofRejected();
        }
        prediction = argmaxSigned(instances[numInputs:]);
        accepted += 1;
        lastPrediction = prediction;
        emit Predicted(msg.sender, prediction, keccak256(abi.encodePacked(instances[:numInputs])));
    }

    /// Index of the largest output; outputs are field elements encoding signed integers
    /// (values above p/2 are negative).
    function argmaxSigned(uint256[] calldata outputs) internal pure returns (uint256 best) {
        uint256 p = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
        int256 bestValue = type(int256).min;
        for (uint256 i = 0; i < outputs.length; i++) {
            int256 v = outputs[i] > p / 2 ? -int256(p - outputs[i]) : int256(outputs[i]);
            if (v > bestValue) {
                bestValue = v;
                best = i;
            }
        }
    }
}
