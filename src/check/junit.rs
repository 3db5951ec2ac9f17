//! JUnit XML for CI systems: one `<testsuite>` per scenario file, one `<testcase>` per
//! expectation (plus `determinism` when asked for); a file that could not be loaded or run is a
//! suite with one errored case. No timestamps or durations, so the XML is deterministic.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::ScenarioCheck;

/// The result of one scenario file: checked, or an error before any expectation could be
/// measured (bad input, or the run stopped early).
#[derive(Debug, Clone)]
pub enum FileResult {
    /// The scenario ran and its expectations were measured.
    Checked(ScenarioCheck),
    /// It could not be loaded or run.
    Error {
        /// The file as given.
        file: String,
        /// Why.
        message: String,
    },
}

/// The JUnit XML document of a `meshsim check` run.
pub fn junit_xml(results: &[FileResult]) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("meshsim check");
    for r in results {
        match r {
            FileResult::Checked(c) => {
                let mut suite = TestSuite::new(format!("{} ({})", c.scenario, c.file));
                suite.add_property(("seed", c.seed.to_string().as_str()));
                for v in &c.verdicts {
                    let status = if v.passed {
                        TestCaseStatus::success()
                    } else {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(format!("{} (expected {})", v.measured, v.bound)).set_type(v.kind);
                        s
                    };
                    let mut case = TestCase::new(v.name.as_str(), status);
                    case.set_classname(c.scenario.as_str());
                    if v.passed {
                        case.set_system_out(format!("{} (expected {})", v.measured, v.bound));
                    }
                    suite.add_test_case(case);
                }
                for (name, why) in &c.skipped {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(why.as_str());
                    let mut case = TestCase::new(name.as_str(), status);
                    case.set_classname(c.scenario.as_str());
                    suite.add_test_case(case);
                }
                if let Some(d) = &c.determinism {
                    let status = if d.passed {
                        TestCaseStatus::success()
                    } else {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(d.message.as_str()).set_type("determinism");
                        s
                    };
                    let mut case = TestCase::new("determinism", status);
                    case.set_classname(c.scenario.as_str());
                    suite.add_test_case(case);
                }
                report.add_test_suite(suite);
            }
            FileResult::Error { file, message } => {
                let mut suite = TestSuite::new(file.as_str());
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(message.as_str()).set_type("bad input");
                suite.add_test_case(TestCase::new("load and run", s));
                report.add_test_suite(suite);
            }
        }
    }
    report.to_string()
}
