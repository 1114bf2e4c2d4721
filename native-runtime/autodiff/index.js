"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.rematerialize = exports.findCuts = exports.RULES = exports.NON_DIFFERENTIABLE = exports.KNOWN_OPS = exports.GradContext = exports.unbroadcast = exports.topoOrder = exports.emitSumOfSquares = exports.buildGradients = void 0;
// Reverse-mode autodiff over ONNX graphs: `buildGradients` appends gradient nodes for a
// scalar loss with respect to chosen tensors. See walker.ts (the one traversal) and rules/
// (one short rule per op, by family).
var walker_1 = require("./walker");
Object.defineProperty(exports, "buildGradients", { enumerable: true, get: function () { return walker_1.buildGradients; } });
Object.defineProperty(exports, "emitSumOfSquares", { enumerable: true, get: function () { return walker_1.emitSumOfSquares; } });
Object.defineProperty(exports, "topoOrder", { enumerable: true, get: function () { return walker_1.topoOrder; } });
Object.defineProperty(exports, "unbroadcast", { enumerable: true, get: function () { return walker_1.unbroadcast; } });
var context_1 = require("./context");
Object.defineProperty(exports, "GradContext", { enumerable: true, get: function () { return context_1.GradContext; } });
var rules_1 = require("./rules");
Object.defineProperty(exports, "KNOWN_OPS", { enumerable: true, get: function () { return rules_1.KNOWN_OPS; } });
Object.defineProperty(exports, "NON_DIFFERENTIABLE", { enumerable: true, get: function () { return rules_1.NON_DIFFERENTIABLE; } });
Object.defineProperty(exports, "RULES", { enumerable: true, get: function () { return rules_1.RULES; } });
var recompute_1 = require("./recompute");
Object.defineProperty(exports, "findCuts", { enumerable: true, get: function () { return recompute_1.findCuts; } });
Object.defineProperty(exports, "rematerialize", { enumerable: true, get: function () { return recompute_1.rematerialize; } });
//# sourceMappingURL=index.js.map