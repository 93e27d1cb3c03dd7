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
/// @notice The contract pins the verifier, the verifying key (the circuit) and the instance
/// layout. When the weights are `fixed` the verifying key fixes them; when they are `hashed`
/// the verifying key fixes only the architecture, and the contract also pins the model's
/// parameter hash (`zkonnx hash --dir DIR` prints it): a proof made with other weights carries
/// another hash and is refused. A call whose instances do not have the layout, whose model
/// hash differs, or whose proof does not verify, reverts.
contract ModelConsumer {
    /// The compact verifier.
    ICompactVerifier public immutable verifier;
    /// The pinned circuit's verifying-key data contract.
    address public immutable verifyingKey;
    /// Number of instances.
    uint256 public immutable numInstances;
    /// Index of the first public output value.
    uint256 public immutable outputsStart;
    /// Number of public output values (0 when the output is private or hashed).
    uint256 public immutable numOutputs;
    /// Index of the parameter hash among the instances (`type(uint256).max`: not pinned).
    uint256 public immutable modelHashIndex;
    /// The pinned parameter hash (the model's provenance).
    uint256 public immutable modelHash;

    /// Number of accepted proofs.
    uint256 public accepted;
    /// The class of the last accepted proof (argmax of the proven outputs).
    uint256 public lastPrediction;

    /// Emitted for every accepted proof; `inputHash` is the Keccak-256 of the instances before
    /// the outputs (the public input values, or the input's Poseidon hash).
    event Predicted(address indexed sender, uint256 prediction, bytes32 inputHash);

    error WrongInstanceCount(uint256 expected, uint256 got);
    error WrongModel(uint256 expected, uint256 got);
    error ProofRejected();

    constructor(
        address verifier_,
        address verifyingKey_,
        uint256 numInstances_,
        uint256 outputsStart_,
        uint256 numOutputs_,
        uint256 modelHashIndex_,
        uint256 modelHash_
    ) {
        require(outputsStart_ + numOutputs_ <= numInstances_, "outputs outside the instances");
        require(modelHashIndex_ == type(uint256).max || modelHashIndex_ < numInstances_, "hash index");
        verifier = ICompactVerifier(verifier_);
        verifyingKey = verifyingKey_;
        numInstances = numInstances_;
        outputsStart = outputsStart_;
        numOutputs = numOutputs_;
        modelHashIndex = modelHashIndex_;
        modelHash = modelHash_;
    }

    /// Verifies `proof` for `instances` and records the predicted class.
    function submit(bytes calldata proof, uint256[] calldata instances) external returns (uint256 prediction) {
        if (instances.length != numInstances) {
            revert WrongInstanceCount(numInstances, instances.length);
        }
        if (modelHashIndex != type(uint256).max && instances[modelHashIndex] != modelHash) {
            revert WrongModel(modelHash, instances[modelHashIndex]);
        }
        if (!verifier.verifyProof(verifyingKey, instances, proof)) {
            revert ProofRejected();
        }
        prediction = argmaxSigned(instances[outputsStart:outputsStart + numOutputs]);
        accepted += 1;
        lastPrediction = prediction;
        emit Predicted(msg.sender, prediction, keccak256(abi.encodePacked(instances[:outputsStart])));
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
