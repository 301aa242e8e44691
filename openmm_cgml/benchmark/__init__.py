"""The fidelity benchmark: statistics that compare learned coarse-grained dynamics with classical MD
(relaxation times and their replica-bootstrap errors, equilibration checks, agreement scores,
close-contact rates) and alanine-dipeptide kinetics read from bead positions (dihedrals, core-set
states, rates, mean first-passage times, Markov-model implied timescales).  Pure numpy, in nm, ps
and radians; see ``estimators`` and ``kinetics``.
"""
