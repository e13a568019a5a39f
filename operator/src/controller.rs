pub struct Context;
pub fn run_controller() {}
