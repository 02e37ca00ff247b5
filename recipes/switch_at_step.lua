-- Train in MXFP8 for the first `switch` steps, then in MXFP4 (a precision schedule).
-- Two ways to write it: a function of m.step (below, for the scheme), or two stages with
-- start/end (see the comment at the end). The function form keeps one modifier.
local switch = 1000

return {
  args = { switch_step = switch },
  training_stage = {
    lpt_modifiers = {
      LowPrecisionTrainingModifier = {
        scheme = function(m)
          if m.step < switch then
            return "mxfp8_e4m3"
          end
          return "mxfp4"
        end,
        targets = { "Linear" },
        ignore = { "lm_head" },
        -- the Hadamard transform and stochastic rounding are only for FP4: decide them per step
        -- too
        use_hadamard = function(m) return m.step >= switch end,
        use_sr_grad = function(m) return m.step >= switch end,
      },
    },
  },
}
-- Equivalent with start/end:
--   warmup_stage = { lpt_modifiers = { LowPrecisionTrainingModifier =
--       { scheme = "mxfp8_e4m3", ["end"] = switch } } },
--   training_stage = { lpt_modifiers = { LowPrecisionTrainingModifier =
--       { scheme = "mxfp4", start = switch, use_hadamard = true } } },
