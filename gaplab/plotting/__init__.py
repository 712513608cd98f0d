"""Figures drawn from saved runs, one module per figure family (matplotlib only here);
``style`` holds what they share (bare Figures, colours, saving)."""
