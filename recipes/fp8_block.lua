-- The same as fp8_block.yaml, as a plain Lua table.
return {
  training_stage = {
    lpt_modifiers = {
      LowPrecisionTrainingModifier = {
        scheme = "fp8_block",
        targets = { "Linear" },
        ignore = { "lm_head" },
        grad_dtype = "e4m3",
      },
    },
  },
}
