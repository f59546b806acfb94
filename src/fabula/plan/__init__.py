"""Hierarchical long-form writing: plans as data, a story bible, co-writing and exports.

`cowrite.new_plan` starts a plan, `runner.PlanWriter.run` writes (or resumes) it step by step,
`cowrite.regenerate` / `cowrite.edit` / `Plan.undo` change it, `consistency.check_plan` reports
what does not fit, and `cowrite.export` writes Fountain, HTML, PDF, Markdown, EPUB or JSON.
"""
