"""The storefront's build inputs, local serving and browser checks (web/)."""
