"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.LayerContext = void 0;
class LayerContext {
    e;
    scope;
    x;
    rows;
    maskColumn;
    constructor(e, 
    /** Scope for node names: the module path. */
    scope, 
    /** Layer input as [rows, d_in]. */
    x, 
    /** Static row count, or -1 when the model has dynamic shapes. */
    rows, maskColumn) {
        this.e = e;
        this.scope = scope;
        this.x = x;
        this.rows = rows;
        this.maskColumn = maskColumn;
    }
    /** Records a value's static shape (skipped when any dim is unknown). */
    setShape(name, dims) {
        return this.e.setShape(name, dims);
    }
    op(opType, inputs, attrs, dims) {
        return this.e.op(opType, inputs, attrs, dims, this.scope);
    }
    /** `t * scaling`, or `t` itself when scaling is 1. */
    scaled(t, scaling, dims) {
        if (scaling === 1)
            return t;
        return this.op('Mul', [t, this.e.scalar(scaling, `${this.scope}/scaling`)], {}, dims);
    }
}
exports.LayerContext = LayerContext;
//# sourceMappingURL=layerContext.js.map