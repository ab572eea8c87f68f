"""`edgeseg doctor --gpu`: the prepared first GPU run (stages, bundle, report). See edgeseg.doctor.run."""
