"""Learning across signals: meta-learned initialisations (MAML, Reptile), latent modulations (functa)."""
