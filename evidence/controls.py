"""The controls the package gives evidence for, and the wording auditors will look for."""

from __future__ import annotations

CONTROLS = {
    "A1.2": "SOC 2 A1.2: environmental protections, software, data back-up processes and recovery infrastructure "
            "are authorised, designed, implemented, operated, maintained and monitored.",
    "A1.3": "SOC 2 A1.3: recovery plan procedures supporting system recovery are tested (integrity and "
            "completeness of back-up data).",
    "CC7.5": "SOC 2 CC7.5: activities to recover from identified security incidents are identified, developed "
             "and implemented.",
    "CC9.1": "SOC 2 CC9.1: risk mitigation activities for risks arising from potential business disruptions.",
    "A.8.13": "ISO/IEC 27001:2022 A.8.13 Information backup: backup copies are maintained and regularly tested "
              "in accordance with the agreed backup policy.",
}
