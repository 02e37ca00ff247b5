-- MXFP4 everywhere except the first two and the last two transformer blocks, which stay in
-- bf16 (the layers nearest the embedding and the head are the most sensitive).
-- `scheme` is a function: alto calls it per module with m = {name, names, class, classes,
-- layer, n_layers, step}; returning "bf16" (or nil) keeps the module in high precision.
local keep = 2

return {
  training_stage = {
    lpt_modifiers = {
      LowPrecisionTrainingModifier = {
        scheme = function(m)
          if m.layer < keep or m.layer >= m.n_layers - keep then
            return "bf16"
          end
          return "mxfp4"
        end,
        targets = { "Linear" },
        ignore = { "lm_head" },
        use_2dblock_x = false,
        use_2dblock_w = true,
        use_hadamard = true,
        use_sr_grad = true,
      },
    },
  },
}
